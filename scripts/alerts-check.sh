#!/usr/bin/env bash
# Checks contrib/prometheus/alerts.yml: `promtool check rules`, `promtool test rules` on
# alerts_test.yml, and that the unit tests cover every alert both firing (an exp_alerts list with
# entries) and quiet (`exp_alerts: []`). promtool comes from Debian's `prometheus` package.
set -euo pipefail
cd "$(dirname "$0")/../contrib/prometheus"

promtool check rules alerts.yml
promtool test rules alerts_test.yml

# For each `alertname:` in the tests, whether the following exp_alerts is empty or not.
coverage=$(awk '
    /^ *alertname:/ { name = $2; next }
    /^ *exp_alerts: *\[\] *$/ && name != "" { print name, "quiet"; name = ""; next }
    /^ *exp_alerts: *$/ && name != "" { print name, "fires"; name = "" }
' alerts_test.yml | sort -u)
missing=0
for alert in $(awk '/^ *- alert:/ { print $3 }' alerts.yml | sort -u); do
    for kind in fires quiet; do
        if ! grep -qx "$alert $kind" <<<"$coverage"; then
            echo "alerts_test.yml: no test where $alert $kind" >&2
            missing=1
        fi
    done
done
[ "$missing" = 0 ] || exit 1
echo "alerts: $(awk '/^ *- alert:/' alerts.yml | wc -l) rules, each tested firing and quiet"
