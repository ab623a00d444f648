"""nginx integration: recorded writes (state), config inspection (inspect), the web server (server)."""
