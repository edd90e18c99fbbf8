"""Staff accounts kept by shopqa itself: the account store, the first-run setup link and the
failed-login limiter. Accounts in the config's ``staff_users`` work beside these."""
