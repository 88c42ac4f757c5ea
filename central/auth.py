"""Who may do what on the central server.

- a site's sync process holds the site's token (`s_...`, shown once when the site is
  enrolled or its token rotated; only its SHA-256 is stored): it may send that site's
  events, read that site's bundles and report what it applied;
- people sign in with a user name and password and get a session token (`c_...`):
  `province_manager` reads every site, `site_manager` only their own site, `admin` reads
  every site and manages sites, users and bundles.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from server.errors import Forbidden, Unauthorized, ValidationFailed

from .storage import Store

ROLES = ("province_manager", "site_manager", "admin")
SITE_KINDS = ("centre", "branch", "commune")
SITE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_DUMMY_HASH = generate_password_hash("not-a-password")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_site_token() -> str:
    return "s_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class User:
    username: str
    role: str
    site: str | None

    def sites(self) -> list[str] | None:
        """The sites this user may read: None means every site."""
        return [self.site] if self.role == "site_manager" else None

    def check_sites(self, wanted: list[str] | None) -> list[str] | None:
        """The sites a report covers: `wanted` (None: all the user may read), refused with
        403 when it names a site the user may not read."""
        mine = self.sites()
        if mine is None:
            return wanted
        if wanted is None:
            return mine
        other = [s for s in wanted if s not in mine]
        if other:
            raise Forbidden(f"Bạn chỉ được xem số liệu của điểm {self.site}, không được xem "
                            f"điểm {', '.join(other)} (a site manager sees only their site)",
                            code="other_site")
        return wanted

    def require_admin(self) -> None:
        if self.role != "admin":
            raise Forbidden("Chỉ quản trị viên tỉnh được làm việc này (admins only)")


def check_site_id(site: str) -> str:
    if not isinstance(site, str) or not SITE_ID_RE.match(site):
        raise ValidationFailed(f"Mã điểm {site!r} chỉ gồm a-z, 0-9, - và _ (tối đa 32 ký tự) "
                               "(bad site id)", code="bad_site")
    return site


class CentralAuth:
    def __init__(self, store: Store, session_hours: int = 12):
        self.store = store
        self.session_hours = session_hours

    # -- sites -----------------------------------------------------------------------------
    def enrol_site(self, site: str, name: str, kind: str = "commune") -> str:
        """A new site; its token (shown once)."""
        check_site_id(site)
        if kind not in SITE_KINDS:
            raise ValidationFailed(f"kind phải là một trong {', '.join(SITE_KINDS)}",
                                   code="bad_site")
        if not isinstance(name, str) or not 1 <= len(name) <= 120:
            raise ValidationFailed("Tên điểm từ 1 đến 120 ký tự (site name 1-120 characters)",
                                   code="bad_site")
        if self.store.site(site) is not None:
            raise ValidationFailed(f"Điểm {site} đã có (site exists; rotate its token "
                                   "instead)", code="site_exists")
        token = new_site_token()
        self.store.add_site(site, name, kind, hash_token(token))
        return token

    def rotate_site_token(self, site: str) -> str:
        """A new token for the site; the old one stops working at once."""
        token = new_site_token()
        if not self.store.set_site_token(site, hash_token(token)):
            raise ValidationFailed(f"Không có điểm {site} (unknown site)", code="unknown_site")
        return token

    def revoke_site(self, site: str) -> None:
        if not self.store.set_site_active(site, False):
            raise ValidationFailed(f"Không có điểm {site} (unknown site)", code="unknown_site")

    def site_for_token(self, token: str | None) -> str:
        """The site a sync token belongs to; 401 when unknown or revoked."""
        row = self.store.site_by_token(hash_token(token)) if token else None
        if row is None or not row["active"]:
            raise Unauthorized("Mã truy cập của điểm phục vụ không hợp lệ hoặc đã bị thu hồi "
                               "(unknown or revoked site token)")
        return row["id"]

    # -- people ----------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password: str, site: str | None = None,
                 full_name: str = "") -> None:
        if role not in ROLES:
            raise ValidationFailed(f"role phải là một trong {', '.join(ROLES)}",
                                   code="bad_role")
        if role == "site_manager":
            if not site or self.store.site(site) is None:
                raise ValidationFailed("Quản lý điểm cần một điểm đã đăng ký (--site)",
                                       code="unknown_site")
        else:
            site = None
        if not isinstance(password, str) or len(password) < 8:
            raise ValidationFailed("Mật khẩu phải có ít nhất 8 ký tự (password too short)",
                                   code="weak_password")
        if not isinstance(username, str) or not re.match(r"^[A-Za-z0-9._-]{1,64}$", username):
            raise ValidationFailed("Tên đăng nhập không hợp lệ (bad user name)",
                                   code="bad_user")
        self.store.add_user(username, role, site, generate_password_hash(password), full_name)

    def login(self, username, password) -> dict:
        row = self.store.user(username) if isinstance(username, str) else None
        ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH,
                                 password if isinstance(password, str) else "")
        if not row or not ok or not row["active"]:
            raise Unauthorized("Sai tên đăng nhập hoặc mật khẩu (wrong user name or password)",
                               code="bad_credentials")
        token = "c_" + secrets.token_urlsafe(32)
        self.store.add_session(hash_token(token), username, self.session_hours)
        return {"token": token, "username": username, "role": row["role"],
                "site": row["site"]}

    def logout(self, token: str | None) -> None:
        if token:
            self.store.drop_session(hash_token(token))

    def user_for_token(self, token: str | None) -> User:
        row = self.store.session_user(hash_token(token)) if token else None
        if row is None:
            raise Unauthorized("Cần đăng nhập (sign in first)")
        return User(row["username"], row["role"], row["site"])
