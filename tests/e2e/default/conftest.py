"""The order of the default scenario's checks: those marked `last` run after
every other one, so they may leave the deployment changed (destroy comes
next) instead of spending a site run to put it back."""


def pytest_configure(config):
    config.addinivalue_line("markers", "last: runs after every other check and may leave the deployment changed")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
