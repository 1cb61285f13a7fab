#!/usr/bin/env bash
# Installs the official ContactsManager Python SDK (PyPI `contactsmanager`, unchanged) into .tools/sdk-py
# unless that version is already there. Used by sdk-test.sh and by the webhook signature test
# (tests/tests/webhook_sdk.rs), which the test command runs.
set -euo pipefail
cd "$(dirname "$0")/.."

py_version=${CONTACTSMANAGER_PY_VERSION:-1.3.0}
venv=.tools/sdk-py
if ! { [ -x "$venv/bin/python" ] &&
  "$venv/bin/python" -c "import sys, contactsmanager; sys.exit(contactsmanager.__version__ != '$py_version')" 2>/dev/null; }; then
  echo "==> installing contactsmanager==$py_version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "contactsmanager==$py_version"
fi
