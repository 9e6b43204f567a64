def test_reset_empties_request_log(sandbox):
    sandbox.control("GET", "state")
    assert sandbox.requests_log() == []
