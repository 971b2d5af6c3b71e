"""The lock's adapter: `LockStore` over Glance v2 image calls (see declstack.lock).

Each generation of a stack's lock is an image with no data: private, hidden
from image lists (`os_hidden`), tagged `declstack:lock=<stack>`, with the
holder in extra properties. The cloud's clock comes from the `Date` header.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from declstack.cloud import CloudError, OpenStackCloud
from declstack.lock import Holder, LockRecord, lock_tag

GENERATION = "declstack_lock_generation"
STATE = "declstack_lock_state"
HOLDER = "declstack_lock_holder"
LEASE = "declstack_lock_lease"
STACK = "declstack_lock_stack"
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
#: How many lock generations one list call reads (there is normally one).
LIST_LIMIT = "100"


class GlanceLockStore:
    """`LockStore` through an `OpenStackCloud`'s connection and retry policy."""

    def __init__(self, cloud: OpenStackCloud):
        self._cloud = cloud
        self._conn: Any = cloud.connection
        self._scope: str | None = None

    @property
    def scope(self) -> str:
        if self._scope is None:
            self._scope = str(self._conn.current_project_id)
        return self._scope

    def list_locks(self, stack: str) -> tuple[list[LockRecord], datetime]:
        params = {"tag": lock_tag(stack), "os_hidden": "true", "limit": LIST_LIMIT}
        response = self._call(
            "read the stack's lock", lambda: self._conn.image.get("/images", params=params)
        )
        images = _json(response).get("images") or []
        records = [r for r in map(_record, images) if r is not None]
        return records, _server_now(response)

    def get_lock(self, lock_id: str) -> LockRecord | None:
        response = self._call(
            "read the stack's lock",
            lambda: self._conn.image.get(f"/images/{lock_id}", raise_exc=False),
            accept=(404,),
        )
        if response.status_code == 404:
            return None
        return _record(_json(response))

    def create_lock(
        self, lock_id: str, stack: str, generation: int, state: str, holder: Holder, lease: float
    ) -> bool:
        body = {
            "id": lock_id,
            "name": f"declstack-lock-{stack}"[:255],
            "visibility": "private",
            "os_hidden": True,
            "tags": [lock_tag(stack)],
            STACK: stack,
            GENERATION: str(generation),
            STATE: state,
            HOLDER: holder.to_json(),
            LEASE: f"{lease:g}",
        }
        response = self._call(
            "take the stack's lock",
            lambda: self._conn.image.post("/images", json=body, raise_exc=False),
            accept=(409,),
            idempotent=False,
        )
        return bool(response.status_code != 409)

    def update_lock(self, lock_id: str, state: str) -> bool:
        # "add" replaces an existing property too; a new value moves updated_at.
        patch = [
            {"op": "add", "path": f"/{STATE}", "value": state},
            {"op": "add", "path": "/declstack_lock_renewed", "value": _utc_now()},
        ]
        response = self._call(
            "renew the stack's lock",
            lambda: self._conn.image.patch(
                f"/images/{lock_id}",
                data=json.dumps(patch),
                headers={"Content-Type": PATCH_TYPE},
                raise_exc=False,
            ),
            accept=(404,),
        )
        return bool(response.status_code != 404)

    def delete_lock(self, lock_id: str) -> None:
        self._call(
            "delete an old lock generation",
            lambda: self._conn.image.delete(f"/images/{lock_id}", raise_exc=False),
            accept=(404,),
        )

    def _call(
        self,
        action: str,
        send: Any,
        *,
        accept: tuple[int, ...] = (),
        idempotent: bool = True,
    ) -> Any:
        """One image request with the cloud's retry policy; `accept`ed statuses return."""
        from openstack import exceptions

        def call() -> Any:
            response = send()
            if response.status_code >= 400 and response.status_code not in accept:
                exceptions.raise_from_response(response)
            return response

        try:
            return self._cloud.retrying(action, call, idempotent=idempotent)
        except CloudError as exc:
            if exc.status == 403:
                exc.hint = (
                    "the lock lives in the image service: the user must be allowed to "
                    "create images; pass --no-lock to run without it"
                )
            raise


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _record(image: dict[str, Any]) -> LockRecord | None:
    """A lock generation from an image; None for an image that is not one."""
    try:
        generation = int(image.get(GENERATION) or "")
        lease = float(image.get(LEASE) or "0")
        since = _timestamp(image["created_at"])
        renewed = _timestamp(image["updated_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return LockRecord(
        id=str(image["id"]),
        generation=generation,
        state=str(image.get(STATE) or ""),
        holder=Holder.from_json(image.get(HOLDER)),
        since=since,
        renewed=renewed,
        lease=lease,
    )


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _server_now(response: Any) -> datetime:
    """The cloud's clock from the `Date` header (ours when it has none)."""
    header = response.headers.get("Date")
    if header:
        try:
            return parsedate_to_datetime(header).astimezone(timezone.utc)
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
