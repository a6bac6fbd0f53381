"""The README's first function: greets whoever the event names."""


def handler(event, context):
    name = event.get("name", "world")
    print(f"saying hello to {name}")
    return {"message": f"Hello, {name}!"}
