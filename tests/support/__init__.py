"""What the tests share: data, servers, HTTP calls and waiting (fixtures stay in conftest)."""
