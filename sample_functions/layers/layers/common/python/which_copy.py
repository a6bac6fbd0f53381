WHERE = "/opt/python (common layer)"
