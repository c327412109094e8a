"""The counter of the peers' check scripts: check(ok, what) prints what failed; summary() ends."""

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {what}")


def summary(name):
    """Prints "name: N passed, N failed"; the exit status: 1 when a check failed."""
    print(f"{name}: {passed} passed, {failed} failed")
    return 1 if failed else 0
