GREETING = "greeting from instance/config.py"
