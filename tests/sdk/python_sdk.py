#!/usr/bin/env python3
"""The official ContactsManager Python SDK (PyPI `contactsmanager`), unchanged, against Switchboard.

Environment: SWITCHBOARD_URL (e.g. http://127.0.0.1:3000), SWITCHBOARD_ORG_ID, SWITCHBOARD_ORG_API_KEY,
SWITCHBOARD_ORG_API_SECRET. Run with the Python that has the SDK installed (scripts/sdk-test.sh does it).

The SDK has no base-URL option: `ContactsManagerClient(api_key, api_secret, org_id)` takes nothing else, and
`contactsmanager/server_config.py` builds every URL from its module global `SERVER_BASE_URL`
("https://api.contactsmanager.io"), read at call time. Setting that global is the only configuration done
here; no SDK code is replaced.

Every check prints `ok - …` or `FAIL - …`; checks go on after a failure where they can, so one run shows
every incompatibility. The last line is `python-sdk: N passed, N failed`; the exit status is 1 on any failure.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

import jwt  # PyJWT, the SDK's own dependency
import contactsmanager
import contactsmanager.server_config as server_config
from contactsmanager import ContactsManagerClient, ServerAPIError
from contactsmanager.types import DeviceInfo, UserInfo


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"python-sdk: environment variable {name} is required")
    return value


URL = env("SWITCHBOARD_URL").rstrip("/")
ORG_ID = env("SWITCHBOARD_ORG_ID")
API_KEY = env("SWITCHBOARD_ORG_API_KEY")
API_SECRET = env("SWITCHBOARD_ORG_API_SECRET")

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAIL - {name}" + (f": {detail}" if detail else ""))
    return condition


def sdk_error(error):
    body = json.dumps(error.response_data)
    if len(body) > 400:
        body = body[:400] + "…"
    return f"ServerAPIError {error} (status {error.status_code}, body {body})"


def http(method, path, token=None, body=None):
    """Plain HTTP as an app would send it with the token the SDK returned: (status, parsed JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except urllib.error.URLError as error:
        return 0, f"no response: {error.reason}"
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def main():
    print(f"python-sdk: contactsmanager {contactsmanager.__version__} against {URL}")
    server_config.SERVER_BASE_URL = URL
    check(
        "SDK builds its URLs from SERVER_BASE_URL",
        server_config.get_server_endpoint("create_user", uid="x") == f"{URL}/api/v1/server/users/x",
        server_config.get_server_endpoint("create_user", uid="x"),
    )
    client = ContactsManagerClient(api_key=API_KEY, api_secret=API_SECRET, org_id=ORG_ID)
    suffix = uuid.uuid4().hex[:10]
    uid = f"py-sdk-{suffix}"
    email = f"py-sdk-{suffix}@example.com"

    # generate_token is local: an HS256 token signed with the apiSecret.
    generated = client.generate_token(uid, DeviceInfo(device_type="server", os="linux"), 600)
    try:
        claims = jwt.decode(generated["token"], API_SECRET, algorithms=["HS256"])
        check(
            "generate_token: HS256 token with user_id, api_key, org_id, iss, jti, exp",
            claims["user_id"] == uid
            and claims["api_key"] == API_KEY
            and claims["org_id"] == ORG_ID
            and claims["iss"] == ORG_ID
            and claims.get("jti")
            and claims["exp"] == generated["expires_at"],
            json.dumps(claims),
        )
    except jwt.PyJWTError as error:
        check("generate_token: HS256 token verifies with the apiSecret", False, str(error))

    # create_user: a new user.
    user_info = UserInfo(
        user_id=uid,
        full_name="Py Sdk",
        email=email,
        avatar_url="https://example.com/a.png",
        metadata={"plan": "pro", "n": 1},
    )
    device = DeviceInfo(device_type="mobile", os="iOS", app_version="1.0.0")
    started = int(time.time())
    token = None
    user_id = None
    try:
        created = client.create_user(user_info, device, expiry_seconds=3600)
        check("create_user (new user): no error", True)
        check("create_user: status success", created.status == "success", created.status)
        check("create_user: created is true", created.data.created is True, repr(created.data.created))
        check(
            "create_user: token present",
            isinstance(created.data.token.token, str) and len(created.data.token.token) > 20,
        )
        expires_at = created.data.token.expires_at
        check(
            "create_user: expires_at is unix seconds ~ now + 3600",
            isinstance(expires_at, int) and abs(expires_at - (started + 3600)) < 60,
            repr(expires_at),
        )
        user = created.data.user
        check(
            "create_user: user.organization_user_id is the uid",
            user.organization_user_id == uid,
            repr(user.organization_user_id),
        )
        check("create_user: user.organization_id", user.organization_id == ORG_ID, repr(user.organization_id))
        check(
            "create_user: user email, full_name, avatar_url, contact_metadata, is_active",
            user.email == email
            and user.full_name == "Py Sdk"
            and user.avatar_url == "https://example.com/a.png"
            and user.contact_metadata == {"plan": "pro", "n": 1}
            and user.is_active is True,
            repr(user),
        )
        token, user_id = created.data.token.token, user.id
    except ServerAPIError as error:
        check("create_user (new user): no error", False, sdk_error(error))

    # create_user again: the same user, updated.
    try:
        updated = client.create_user(
            UserInfo(user_id=uid, full_name="Py Sdk Renamed", email=email), device, expiry_seconds=3600
        )
        check("create_user (existing user): no error", True)
        check("create_user again: created is false", updated.data.created is False, repr(updated.data.created))
        check(
            "create_user again: same user, name updated",
            (user_id is None or updated.data.user.id == user_id)
            and updated.data.user.organization_user_id == uid
            and updated.data.user.full_name == "Py Sdk Renamed",
            repr(updated.data.user),
        )
        token = token or updated.data.token.token
        user_id = user_id or updated.data.user.id
    except ServerAPIError as error:
        check("create_user (existing user): no error", False, sdk_error(error))

    # The returned token is a Switchboard access token.
    if token:
        status, body = http("GET", "/sessions", token)
        check("returned token: GET /sessions -> 200 with a JSON array", status == 200 and isinstance(body, list),
              f"{status} {body}")
    else:
        check("returned token: GET /sessions -> 200", False, "no token: both create_user calls failed")

    # generate_token's token (made by the SDK alone, for an existing user) is that user on the end-user routes.
    generated = client.generate_token(uid)["token"]
    for path in ("/users/me", "/users/me/devices", "/users/me/preferences"):
        status, body = http("GET", path, generated)
        check(f"generate_token's token: GET {path} -> 200", status == 200, f"{status} {body}")
    status, body = http("GET", "/users/me", client.generate_token(f"py-sdk-nobody-{suffix}")["token"])
    check("generate_token's token of an unknown user -> 401", status == 401, f"{status} {body}")

    # validate-key, as the SDK's own integration test calls it (the SDK itself never does).
    bearer = client.generate_token(uid)["token"]
    status, body = http("POST", "/api/v1/client/validate-key", bearer, {"api_key": API_KEY})
    check(
        "validate-key: valid key -> 200 {status: success, data: {valid: true}}",
        status == 200 and isinstance(body, dict) and body.get("status") == "success"
        and body.get("data", {}).get("valid") is True,
        f"{status} {body}",
    )
    status, body = http("POST", "/api/v1/client/validate-key", bearer, {"api_key": "invalid_api_key"})
    check("validate-key: unknown key -> 401", status == 401, f"{status} {body}")

    # delete_user.
    try:
        deleted = client.delete_user(uid)
        check("delete_user: no error", True)
        check("delete_user: status success", deleted.status == "success", deleted.status)
        check("delete_user: message says deleted", "deleted" in deleted.message.lower(), deleted.message)
        check(
            "delete_user: deleted_contact_id is the user's id",
            deleted.data.deleted_contact_id and (user_id is None or deleted.data.deleted_contact_id == user_id),
            repr(deleted.data.deleted_contact_id),
        )
    except ServerAPIError as error:
        check("delete_user: no error", False, sdk_error(error))

    if token:
        status, body = http("GET", "/sessions", token)
        check("after delete_user: the user's token -> 401", status == 401, f"{status} {body}")
    status, body = http("GET", "/users/me", generated)
    check("after delete_user: generate_token's token -> 401", status == 401, f"{status} {body}")

    # Deleting a user that does not exist: the SDK's integration tests accept an error of 404 or 400.
    try:
        client.delete_user(f"py-sdk-missing-{suffix}")
        check("delete_user (unknown user): ServerAPIError 404/400", False, "no error raised")
    except ServerAPIError as error:
        check("delete_user (unknown user): ServerAPIError 404/400", error.status_code in (404, 400),
              sdk_error(error))

    # User ids the SDK puts in the URL path as they are; requests percent-encodes characters such as `|`
    # and spaces (Auth0 ids look like `auth0|abc123`), while the token's user_id claim has them decoded.
    for odd in (f"auth0|{suffix}", f"py sdk {suffix}"):
        info = UserInfo(user_id=odd, full_name="Odd Id", email=f"odd-{suffix}@example.com")
        outcome = []
        for attempt in ("create", "create again", "delete"):
            try:
                if attempt == "delete":
                    client.delete_user(odd)
                else:
                    response = client.create_user(info)
                    if response.data.user.organization_user_id != odd:
                        raise ValueError(f"organization_user_id {response.data.user.organization_user_id!r}")
                outcome.append(f"{attempt}: ok")
            except (ServerAPIError, ValueError) as error:
                outcome.append(f"{attempt}: " + (sdk_error(error) if isinstance(error, ServerAPIError) else str(error)))
        check(f"user id {odd!r}: create, create again, delete", all(o.endswith(": ok") for o in outcome),
              "; ".join(outcome))

    print(f"python-sdk: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
