"""The Provider Enrollment Portal (issue 13, step 1): invitations, the Provider Agreement, the state's review."""
