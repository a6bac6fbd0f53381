def hello(name):
    return f"Hello, {name}, from the common layer"
