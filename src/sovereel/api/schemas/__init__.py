"""Response and documented request schemas of the JSON API, one module per resource (as `api/routes`)."""
