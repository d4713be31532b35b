"""The demo shop: a believable Chinese retail business, generated (shop.py, pure) and sent to a running
stack through its public APIs (client.py, fill.py)."""
