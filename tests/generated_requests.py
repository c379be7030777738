"""What the generated request tests (schemathesis over the API and over the UI's JSON) share."""

import hypothesis

# No deadline (a request may touch the database), no example database (each run explores
# afresh), no health check (the fixtures are slow on purpose).
HYPOTHESIS_SETTINGS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(hypothesis.HealthCheck),
}
