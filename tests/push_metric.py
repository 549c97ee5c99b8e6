"""Push one sample to a Pushgateway: `python push_metric.py URL METRIC VALUE` (used as a
playbook step in the SLI tests; the body must end with a newline)."""

import sys
import urllib.request

url, metric, value = sys.argv[1:4]
request = urllib.request.Request(url, data=f"{metric} {value}\n".encode(), method="PUT")
with urllib.request.urlopen(request, timeout=5) as response:
    sys.exit(0 if response.status in (200, 202) else 1)
