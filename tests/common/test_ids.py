"""Ids: never the same random bits in a forked child as in its parent (API processes fork)."""

import os

from services.common.ids import new_id


def test_a_forked_child_does_not_reuse_its_parents_random_bits():
    new_id()  # the parent has random bits buffered before it forks
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write_end, new_id().encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    childs = os.read(read_end, 64).decode()
    os.close(read_end)
    parents = new_id()
    assert childs[-12:] != parents[-12:]  # the last 48 bits are random

