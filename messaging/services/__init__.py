"""Domain logic. Views and tasks stay thin and call in here."""
