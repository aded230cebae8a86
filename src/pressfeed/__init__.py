"""pressfeed: an event-sourced publishing backend for a press office's statements."""
