"""Fixtures: one private PostgreSQL cluster per session, a shared default stack, fresh stacks."""
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

import harness  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed and rep.when in ("setup", "call") and harness.ACTIVE_STACKS:
        tails = "\n".join(s.log_tails() for s in harness.ACTIVE_STACKS)
        rep.sections.append(("barbacane process logs (tail)", tails))


@pytest.fixture(scope="session")
def binaries():
    missing = harness.missing_binaries()
    if missing:
        pytest.fail("Barbacane binaries not built: " + ", ".join(missing)
                    + f" — run `make` in {harness.REPO_ROOT} first", pytrace=False)
    return harness.GATEWAY_BIN, harness.REGISTRY_BIN


@pytest.fixture(scope="session")
def pg():
    cluster = harness.PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def stack(binaries, pg, request):
    """The default stack (gateway + 2 registry-svc + 1 compiler-svc) shared by the functional
    tests."""
    s = harness.Stack(pg, registries=2, name="default", compilers=1).start()
    failed_before = request.session.testsfailed
    yield s
    s.close()
    if request.session.testsfailed == failed_before:
        s.remove_files()
    else:
        print(f"\nlogs of the default stack kept in {s.workdir}", file=sys.stderr)


@pytest.fixture
def make_stack(binaries, pg, request):
    """Factory of fresh stacks (own database, own ports), killed at the end of the test."""
    made = []

    def make(registries=2, **kw):
        s = harness.Stack(pg, registries=registries, name=f"t{len(made)}", **kw)
        made.append(s)
        return s.start()

    yield make
    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    for s in made:
        if failed:
            print(f"\nlogs of stack {s.name} kept in {s.workdir}", file=sys.stderr)
        s.close()
        if not failed:
            s.remove_files()
