"""What pullpass tells its operators: JSON logs and Prometheus metrics."""
