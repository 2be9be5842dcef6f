"""One repository contract, run unchanged over every database backend."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.errors import EmailAlreadyRegistered, NotFound, VersionMismatch
from app.models import (
    ActionToken,
    AttemptWindow,
    FileRecord,
    Page,
    PageKey,
    Project,
    RefreshToken,
    Session,
    User,
    new_id,
)
from app.repositories.base import (
    ActionTokenRepository,
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def make_project(owner_id: str, name: str = "p", created_at: datetime = T0) -> Project:
    return Project(
        id=new_id(),
        owner_id=owner_id,
        name=name,
        description=None,
        created_at=created_at,
        updated_at=created_at,
    )


def make_file(project_id: str, created_at: datetime = T0, name: str = "f.txt") -> FileRecord:
    file_id = new_id()
    return FileRecord(
        id=file_id,
        project_id=project_id,
        owner_id="owner",
        filename=name,
        content_type="text/plain",
        size=3,
        sha256="ab" * 32,
        storage_key=f"{project_id}/{file_id}",
        created_at=created_at,
    )


def add_owner(user_repo: UserRepository, user_id: str, *, is_active: bool = True) -> User:
    """A stored user with a chosen id, so that projects can name it as their owner."""
    user = User(
        id=user_id,
        email=f"{user_id}@example.com",
        password_hash="hash",
        is_active=is_active,
        created_at=T0,
    )
    return user_repo.add_user(user)


OWNERS = ("owner", "me", "someone-else")
"""The owners the project and file tests name; their projects need them stored."""


@pytest.fixture
def owners(user_repo: UserRepository) -> None:
    for owner_id in OWNERS:
        add_owner(user_repo, owner_id)


@pytest.fixture
def parents(owners: None, project_repo: ProjectRepository) -> None:
    """Projects p1 and p2 of "owner", for the file tests (a file needs its project)."""
    for project_id in ("p1", "p2"):
        project_repo.add_project(make_project("owner").model_copy(update={"id": project_id}))


def collect(fetch_page: object, limit: int) -> list[str]:
    """Walk every page and return the ids in order."""
    assert callable(fetch_page)
    ids: list[str] = []
    after: PageKey | None = None
    while True:
        page: Page[Project] = fetch_page(limit=limit, after=after)
        assert len(page.items) <= limit
        ids += [item.id for item in page.items]
        if page.next_key is None:
            return ids
        assert len(page.items) == limit, "only the last page may be short"
        after = page.next_key


class TestUsers:
    def test_a_created_user_is_found_by_id_and_email_unchanged(
        self, user_repo: UserRepository
    ) -> None:
        user = user_repo.create_user("ada@example.com", "hash", "Ada")
        assert user_repo.get_user(user.id) == user
        assert user_repo.get_user_by_email("ada@example.com") == user
        assert user.created_at.tzinfo is not None

    def test_unknown_users_are_none(self, user_repo: UserRepository) -> None:
        assert user_repo.get_user("nope") is None
        assert user_repo.get_user_by_email("nobody@example.com") is None

    def test_a_taken_email_is_refused(self, user_repo: UserRepository) -> None:
        user_repo.create_user("ada@example.com", "hash")
        with pytest.raises(EmailAlreadyRegistered):
            user_repo.create_user("ada@example.com", "other")

    def test_concurrent_registrations_of_one_email_store_exactly_one(
        self, user_repo: UserRepository
    ) -> None:
        def register(i: int) -> bool:
            try:
                user_repo.create_user("race@example.com", f"hash{i}")
            except EmailAlreadyRegistered:
                return False
            return True

        with ThreadPoolExecutor(max_workers=20) as pool:
            outcomes = list(pool.map(register, range(20)))
        assert outcomes.count(True) == 1
        assert user_repo.get_user_by_email("race@example.com") is not None

    def test_a_field_update_changes_only_its_fields(self, user_repo: UserRepository) -> None:
        user = user_repo.create_user("ada@example.com", "old-hash", "Ada")
        updated = user_repo.update_user_fields(user.id, {"full_name": "Ada L."})
        assert updated == user.model_copy(update={"full_name": "Ada L."})
        assert user_repo.get_user(user.id) == updated

    def test_a_field_update_keeps_what_a_concurrent_writer_stored_in_the_other_fields(
        self, user_repo: UserRepository
    ) -> None:
        user = user_repo.create_user("ada@example.com", "old-hash", "Ada")
        read_before = user_repo.get_user(user.id)  # a slow profile update holds this
        user_repo.update_user_fields(user.id, {"password_hash": "new-hash"})
        assert read_before is not None
        user_repo.update_user_fields(read_before.id, {"full_name": "Ada L."})
        stored = user_repo.get_user(user.id)
        assert stored is not None
        assert (stored.password_hash, stored.full_name) == ("new-hash", "Ada L.")

    @pytest.mark.parametrize(
        "changes", [{"email": "x@example.com"}, {"id": "other"}, {"created_at": T0}, {}]
    )
    def test_a_field_update_refuses_fields_that_never_change(
        self, user_repo: UserRepository, changes: dict[str, object]
    ) -> None:
        user = user_repo.create_user("ada@example.com", "hash")
        with pytest.raises(ValueError, match="field"):
            user_repo.update_user_fields(user.id, changes)
        assert user_repo.get_user(user.id) == user

    def test_updating_a_missing_user_is_not_found_and_creates_nothing(
        self, user_repo: UserRepository
    ) -> None:
        ghost = new_id()
        with pytest.raises(NotFound):
            user_repo.update_user_fields(ghost, {"full_name": "Ghost"})
        assert user_repo.get_user(ghost) is None

    def test_a_replace_sets_every_mutable_field_but_never_the_email(
        self, user_repo: UserRepository
    ) -> None:
        user = user_repo.create_user("ada@example.com", "old-hash", "Ada")
        changed = user.model_copy(
            update={
                "password_hash": "new-hash",
                "full_name": None,
                "is_active": False,
                "email": "x@example.com",
            }
        )
        replaced = user_repo.replace_user(changed)
        assert replaced == changed.model_copy(update={"email": "ada@example.com"})
        assert user_repo.get_user(user.id) == replaced

    def test_deleting_a_user_frees_the_email(self, user_repo: UserRepository) -> None:
        user = user_repo.create_user("ada@example.com", "hash")
        assert user_repo.delete_user(user.id) is True
        assert user_repo.get_user(user.id) is None
        assert user_repo.delete_user(user.id) is False
        assert user_repo.create_user("ada@example.com", "hash").id != user.id

    def test_users_are_listed_newest_first_across_pages(self, user_repo: UserRepository) -> None:
        made = [
            user_repo.add_user(
                User(
                    id=new_id(),
                    email=f"u{i}@example.com",
                    password_hash="h",
                    created_at=T0 + timedelta(seconds=i),
                )
            )
            for i in range(5)
        ]
        assert collect(user_repo.list_users, limit=2) == [u.id for u in reversed(made)]

    def test_ping_answers(self, user_repo: UserRepository) -> None:
        user_repo.ping()

    def test_new_users_start_unverified_and_no_admin_and_their_flags_update(
        self, user_repo: UserRepository
    ) -> None:
        user = user_repo.create_user("ada@example.com", "hash")
        assert (user.is_verified, user.is_superuser) == (False, False)
        admin = user_repo.create_user("root@example.com", "h", is_verified=True, is_superuser=True)
        assert user_repo.get_user(admin.id) == admin
        updated = user_repo.update_user_fields(user.id, {"is_verified": True, "is_superuser": True})
        assert updated == user.model_copy(update={"is_verified": True, "is_superuser": True})
        assert user_repo.get_user_by_email("ada@example.com") == updated

    def test_users_are_filtered_by_email_prefix_across_pages(
        self, user_repo: UserRepository
    ) -> None:
        emails = ["an@x.io", "ann@x.io", "bob@x.io", "an_x@x.io", "an%y@x.io", "anna@x.io"]
        made = [
            user_repo.add_user(
                User(
                    id=new_id(),
                    email=email,
                    password_hash="h",
                    created_at=T0 + timedelta(seconds=i),
                )
            )
            for i, email in enumerate(emails)
        ]

        def listed(prefix: str, limit: int) -> list[str]:
            def fetch(limit: int, after: PageKey | None) -> Page[User]:
                return user_repo.list_users(limit=limit, after=after, email_prefix=prefix)

            return collect(fetch, limit=limit)

        by_id = {user.id: user.email for user in made}
        assert [by_id[i] for i in listed("ann", 1)] == ["anna@x.io", "ann@x.io"]
        assert [by_id[i] for i in listed("an", 2)] == [
            "anna@x.io",
            "an%y@x.io",
            "an_x@x.io",
            "ann@x.io",
            "an@x.io",
        ]
        # Wildcards of LIKE mean themselves; the case counts (emails are stored lower-cased).
        assert [by_id[i] for i in listed("an_", 5)] == ["an_x@x.io"]
        assert [by_id[i] for i in listed("an%", 5)] == ["an%y@x.io"]
        assert listed("AN", 5) == []
        assert listed("zed", 5) == []


@pytest.mark.usefixtures("owners")
class TestProjects:
    def test_a_created_project_round_trips_exactly(self, project_repo: ProjectRepository) -> None:
        project = project_repo.create_project("owner", "Apollo", "to the moon")
        assert project_repo.get_project(project.id) == project
        assert project.created_at == project.updated_at

    def test_an_added_project_keeps_its_id_and_timestamps(
        self, project_repo: ProjectRepository
    ) -> None:
        project = make_project("owner")
        project_repo.add_project(project)
        assert project_repo.get_project(project.id) == project

    def test_projects_list_only_the_owners_newest_first(
        self, project_repo: ProjectRepository
    ) -> None:
        mine = [
            project_repo.add_project(make_project("me", f"p{i}", T0 + timedelta(minutes=i)))
            for i in range(3)
        ]
        project_repo.add_project(make_project("someone-else"))
        page = project_repo.get_projects_by_user("me", limit=10)
        assert [p.id for p in page.items] == [p.id for p in reversed(mine)]
        assert page.next_key is None

    def test_pages_cover_every_project_once_even_with_equal_timestamps(
        self, project_repo: ProjectRepository
    ) -> None:
        same_moment = [project_repo.add_project(make_project("me")) for _ in range(5)]
        later = [
            project_repo.add_project(make_project("me", created_at=T0 + timedelta(seconds=1)))
            for _ in range(2)
        ]
        expected = sorted(later, key=lambda p: p.id, reverse=True) + sorted(
            same_moment, key=lambda p: p.id, reverse=True
        )
        for limit in (1, 2, 3, 7, 8):
            ids = collect(lambda **kw: project_repo.get_projects_by_user("me", **kw), limit)
            assert ids == [p.id for p in expected], f"limit={limit}"

    def test_an_owner_without_projects_gets_an_empty_last_page(
        self, project_repo: ProjectRepository
    ) -> None:
        page = project_repo.get_projects_by_user("nobody", limit=5)
        assert page.items == []
        assert page.next_key is None

    def test_a_new_project_is_at_the_first_version(self, project_repo: ProjectRepository) -> None:
        assert project_repo.create_project("owner", "Apollo").version == 1
        assert project_repo.add_project(make_project("owner")).version == 1

    def test_a_field_update_changes_only_its_fields_and_increments_the_version(
        self, project_repo: ProjectRepository
    ) -> None:
        project = project_repo.add_project(make_project("me"))
        later = T0 + timedelta(hours=1)
        updated = project_repo.update_project_fields(
            project.id, "me", {"description": "d", "updated_at": later}
        )
        assert updated == project.model_copy(
            update={"description": "d", "updated_at": later, "version": 2}
        )
        assert project_repo.get_project(project.id) == updated
        again = project_repo.update_project_fields(project.id, "me", {"name": "new"})
        assert (again.name, again.description, again.version) == ("new", "d", 3)

    def test_a_field_update_keeps_what_a_concurrent_writer_stored_in_the_other_fields(
        self, project_repo: ProjectRepository
    ) -> None:
        project = project_repo.add_project(make_project("me", name="Apollo"))
        read_before = project_repo.get_project(project.id)  # the other PATCH read this
        project_repo.update_project_fields(project.id, "me", {"name": "Gemini"})
        assert read_before is not None
        project_repo.update_project_fields(read_before.id, "me", {"description": "moon"})
        stored = project_repo.get_project(project.id)
        assert stored is not None
        assert (stored.name, stored.description, stored.version) == ("Gemini", "moon", 3)

    def test_concurrent_field_updates_all_land_and_count_in_the_version(
        self, project_repo: ProjectRepository
    ) -> None:
        project = project_repo.add_project(make_project("me"))
        fields = ["name", "description"] * 4

        def update(n: int) -> None:
            project_repo.update_project_fields(project.id, "me", {fields[n]: f"{fields[n]} {n}"})

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(update, range(len(fields))))
        stored = project_repo.get_project(project.id)
        assert stored is not None
        assert stored.version == 1 + len(fields)
        assert stored.name.startswith("name ")
        assert stored.description is not None and stored.description.startswith("description ")

    def test_an_expected_version_applies_the_update_only_while_it_is_current(
        self, project_repo: ProjectRepository
    ) -> None:
        project = project_repo.add_project(make_project("me"))
        current = project_repo.update_project_fields(
            project.id, "me", {"name": "first"}, expected_version=1
        )
        assert current.version == 2
        with pytest.raises(VersionMismatch) as refused:
            project_repo.update_project_fields(
                project.id, "me", {"name": "stale"}, expected_version=1
            )
        assert refused.value.current_version == 2
        assert project_repo.get_project(project.id) == current

    @pytest.mark.parametrize("expected_version", [None, 1, 7])
    def test_a_field_update_by_another_owner_or_of_a_missing_project_is_not_found(
        self, project_repo: ProjectRepository, expected_version: int | None
    ) -> None:
        project = project_repo.add_project(make_project("me"))
        with pytest.raises(NotFound):
            project_repo.update_project_fields(
                project.id, "thief", {"name": "x"}, expected_version=expected_version
            )
        missing = new_id()
        with pytest.raises(NotFound):
            project_repo.update_project_fields(
                missing, "me", {"name": "x"}, expected_version=expected_version
            )
        assert project_repo.get_project(project.id) == project
        assert project_repo.get_project(missing) is None

    @pytest.mark.parametrize(
        "changes", [{"owner_id": "thief"}, {"version": 9}, {"created_at": T0}, {}]
    )
    def test_a_field_update_refuses_fields_that_never_change(
        self, project_repo: ProjectRepository, changes: dict[str, object]
    ) -> None:
        project = project_repo.add_project(make_project("me"))
        with pytest.raises(ValueError, match="field"):
            project_repo.update_project_fields(project.id, "me", changes)
        assert project_repo.get_project(project.id) == project

    def test_a_replace_copies_every_mutable_field_and_the_version(
        self, project_repo: ProjectRepository
    ) -> None:
        project = project_repo.add_project(make_project("me"))
        later = T0 + timedelta(hours=1)
        source = project.model_copy(
            update={
                "name": "new",
                "description": "d",
                "updated_at": later,
                "version": 5,
                "created_at": later,
            }
        )
        replaced = project_repo.replace_project(source)
        assert replaced == source.model_copy(update={"created_at": project.created_at})
        assert project_repo.get_project(project.id) == replaced
        with pytest.raises(NotFound):
            project_repo.replace_project(source.model_copy(update={"owner_id": "thief"}))
        with pytest.raises(NotFound):
            project_repo.replace_project(make_project("me"))

    def test_a_project_of_a_deleted_or_inactive_owner_is_refused_and_nothing_is_stored(
        self, user_repo: UserRepository, project_repo: ProjectRepository
    ) -> None:
        gone = add_owner(user_repo, "gone")
        assert user_repo.delete_user(gone.id)
        add_owner(user_repo, "inactive", is_active=False)
        for owner_id in ("gone", "inactive", "never-existed"):
            with pytest.raises(NotFound):
                project_repo.add_project(make_project(owner_id))
            with pytest.raises(NotFound):
                project_repo.create_project(owner_id, "late")
            assert project_repo.get_projects_by_user(owner_id, limit=5).items == []

    def test_delete_is_limited_to_the_owner(self, project_repo: ProjectRepository) -> None:
        project = project_repo.add_project(make_project("me"))
        assert project_repo.delete_project(project.id, "thief") is False
        assert project_repo.get_project(project.id) == project
        assert project_repo.delete_project(project.id, "me") is True
        assert project_repo.get_project(project.id) is None
        assert project_repo.delete_project(project.id, "me") is False


@pytest.mark.usefixtures("parents")
class TestFiles:
    def test_a_file_is_found_only_in_its_project(self, file_repo: FileRepository) -> None:
        record = file_repo.add_file(make_file("p1"))
        assert file_repo.get_file("p1", record.id) == record
        assert file_repo.get_file("p2", record.id) is None

    def test_files_list_newest_first_across_pages(self, file_repo: FileRepository) -> None:
        made = [file_repo.add_file(make_file("p1", T0 + timedelta(seconds=i))) for i in range(5)]
        file_repo.add_file(make_file("p2"))
        ids = collect(lambda **kw: file_repo.list_files("p1", **kw), limit=2)
        assert ids == [f.id for f in reversed(made)]

    def test_deleting_a_file_needs_its_project(self, file_repo: FileRepository) -> None:
        record = file_repo.add_file(make_file("p1"))
        assert file_repo.delete_file("p2", record.id) is False
        assert file_repo.get_file("p1", record.id) == record
        assert file_repo.delete_file("p1", record.id) is True
        assert file_repo.get_file("p1", record.id) is None
        assert file_repo.delete_file("p1", record.id) is False

    def test_deleting_a_projects_files_returns_them_and_spares_other_projects(
        self, file_repo: FileRepository
    ) -> None:
        doomed = [file_repo.add_file(make_file("p1", T0 + timedelta(seconds=i))) for i in range(30)]
        kept = file_repo.add_file(make_file("p2"))
        removed = file_repo.delete_project_files("p1")
        assert sorted(r.id for r in removed) == sorted(r.id for r in doomed)
        assert file_repo.list_files("p1", limit=100).items == []
        assert file_repo.get_file("p2", kept.id) == kept
        assert file_repo.delete_project_files("p1") == []

    def test_a_file_of_a_deleted_project_is_refused_and_nothing_is_stored(
        self, project_repo: ProjectRepository, file_repo: FileRepository
    ) -> None:
        assert project_repo.delete_project("p1", "owner")
        record = make_file("p1")
        with pytest.raises(NotFound):
            file_repo.add_file(record)
        assert file_repo.get_file("p1", record.id) is None
        assert file_repo.list_files("p1", limit=5).items == []
        assert file_repo.delete_project_files("p1") == []

    def test_a_file_is_refused_in_a_missing_project_or_one_its_owner_does_not_own(
        self, file_repo: FileRepository
    ) -> None:
        strays = [make_file("never-existed"), make_file("p1").model_copy(update={"owner_id": "me"})]
        for record in strays:
            with pytest.raises(NotFound):
                file_repo.add_file(record)
            assert file_repo.get_file(record.project_id, record.id) is None

    def test_names_with_any_characters_round_trip(self, file_repo: FileRepository) -> None:
        record = file_repo.add_file(
            make_file("p1", name="ünïcødé 'quoted\" ; DROP TABLE files;--.txt")
        )
        assert file_repo.get_file("p1", record.id) == record


def make_session(user_id: str = "u1", expires_at: datetime = T0 + timedelta(days=30)) -> Session:
    return Session(id=new_id(), user_id=user_id, created_at=T0, expires_at=expires_at)


def make_token(session: Session) -> RefreshToken:
    return RefreshToken(
        token_hash=new_id() + new_id(),
        session_id=session.id,
        user_id=session.user_id,
        expires_at=session.expires_at,
    )


class TestSessions:
    def test_a_session_and_its_first_token_round_trip(
        self, session_repo: SessionRepository
    ) -> None:
        session = make_session()
        token = make_token(session)
        session_repo.add_session(session, token)
        assert session_repo.get_session(session.id) == session
        assert session_repo.get_session("missing") is None

    def test_a_refresh_token_is_used_once(self, session_repo: SessionRepository) -> None:
        session = make_session()
        token = make_token(session)
        session_repo.add_session(session, token)
        first, first_use = session_repo.use_refresh_token(token.token_hash)
        assert first_use is True
        assert first == token.model_copy(update={"used": True})
        again, reused = session_repo.use_refresh_token(token.token_hash)
        assert reused is False
        assert again == first
        assert session_repo.use_refresh_token("unknown") == (None, False)

    def test_concurrent_uses_of_one_token_let_exactly_one_through(
        self, session_repo: SessionRepository
    ) -> None:
        session = make_session()
        token = make_token(session)
        session_repo.add_session(session, token)
        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(
                pool.map(lambda _: session_repo.use_refresh_token(token.token_hash)[1], range(10))
            )
        assert outcomes.count(True) == 1

    def test_successor_tokens_belong_to_the_session(self, session_repo: SessionRepository) -> None:
        session = make_session()
        session_repo.add_session(session, make_token(session))
        successor = make_token(session)
        session_repo.add_refresh_token(successor)
        found, first_use = session_repo.use_refresh_token(successor.token_hash)
        assert first_use is True
        assert found is not None and found.session_id == session.id

    def test_revoking_one_session(self, session_repo: SessionRepository) -> None:
        session, other = make_session(), make_session()
        session_repo.add_session(session, make_token(session))
        session_repo.add_session(other, make_token(other))
        assert session_repo.revoke_session(session.id) is True
        assert session_repo.get_session(session.id) == session.model_copy(update={"revoked": True})
        assert session_repo.get_session(other.id) == other
        assert session_repo.revoke_session("missing") is False

    def test_revoking_a_users_sessions_can_keep_one(self, session_repo: SessionRepository) -> None:
        mine = [make_session("u1") for _ in range(3)]
        theirs = make_session("u2")
        for session in [*mine, theirs]:
            session_repo.add_session(session, make_token(session))
        assert session_repo.revoke_user_sessions("u1", keep=mine[0].id) == 2
        states = [session_repo.get_session(s.id) for s in mine]
        assert [s.revoked for s in states if s] == [False, True, True]
        assert session_repo.revoke_user_sessions("u1") == 1
        assert session_repo.get_session(theirs.id) == theirs

    def test_deleting_a_users_sessions_forgets_their_tokens(
        self, session_repo: SessionRepository
    ) -> None:
        mine, theirs = make_session("u1"), make_session("u2")
        my_token, their_token = make_token(mine), make_token(theirs)
        session_repo.add_session(mine, my_token)
        session_repo.add_session(theirs, their_token)
        session_repo.delete_user_sessions("u1")
        assert session_repo.get_session(mine.id) is None
        assert session_repo.use_refresh_token(my_token.token_hash) == (None, False)
        assert session_repo.get_session(theirs.id) == theirs
        assert session_repo.use_refresh_token(their_token.token_hash)[1] is True


def dynamo_ttl(repo: SessionRepository | LoginAttemptRepository, pk: Mapping[str, Any]) -> int:
    """The `expires_ttl` DynamoDB's TTL deletes an item by, read from the raw item."""
    from app.repositories import dynamodb

    assert isinstance(
        repo, dynamodb.DynamoSessionRepository | dynamodb.DynamoLoginAttemptRepository
    )
    item = repo.client.get_item(TableName=repo.table, Key=pk, ConsistentRead=True)["Item"]
    return int(item[dynamodb.TTL_ATTRIBUTE]["N"])


class TestPurging:
    def test_purging_forgets_expired_and_dead_sessions_and_their_tokens(
        self, session_repo: SessionRepository
    ) -> None:
        live = make_session()
        live_used, live_next = make_token(live), make_token(live)
        session_repo.add_session(live, live_used)
        session_repo.use_refresh_token(live_used.token_hash)
        session_repo.add_refresh_token(live_next)
        expired = make_session(expires_at=T0 + timedelta(days=1))
        expired_token = make_token(expired)
        session_repo.add_session(expired, expired_token)
        dead = make_session()
        dead_token = make_token(dead)
        session_repo.add_session(dead, dead_token)
        session_repo.use_refresh_token(dead_token.token_hash)
        session_repo.revoke_session(dead.id)
        revoked = make_session()
        revoked_token = make_token(revoked)
        session_repo.add_session(revoked, revoked_token)
        session_repo.revoke_session(revoked.id)
        now = T0 + timedelta(days=2)

        if session_repo.network_bound:
            # DynamoDB: its TTL deletes every session and token once expired.
            assert session_repo.purge_expired(now) == 0
            for pk, expires_at in [
                ("session#" + expired.id, expired.expires_at),
                ("refresh#" + expired_token.token_hash, expired.expires_at),
                ("session#" + live.id, live.expires_at),
            ]:
                ttl = dynamo_ttl(session_repo, {"pk": {"S": pk}})
                assert ttl == int(expires_at.timestamp())
            return
        assert session_repo.purge_expired(now) == 4
        assert session_repo.purge_expired(now) == 0
        assert session_repo.get_session(expired.id) is None
        assert session_repo.use_refresh_token(expired_token.token_hash) == (None, False)
        assert session_repo.get_session(dead.id) is None
        assert session_repo.use_refresh_token(dead_token.token_hash) == (None, False)
        # A used token of a live session stays, so that its replay is still caught.
        assert session_repo.get_session(live.id) == live
        assert session_repo.use_refresh_token(live_used.token_hash)[0] is not None
        assert session_repo.use_refresh_token(live_next.token_hash)[1] is True
        assert session_repo.get_session(revoked.id) is not None
        assert session_repo.use_refresh_token(revoked_token.token_hash)[1] is True

    def test_purging_at_the_expiry_of_everything_leaves_nothing(
        self, session_repo: SessionRepository
    ) -> None:
        sessions = [make_session() for _ in range(3)]
        for session in sessions:
            session_repo.add_session(session, make_token(session))
            session_repo.add_refresh_token(make_token(session))
        session_repo.revoke_session(sessions[0].id)
        expected = 0 if session_repo.network_bound else 9
        assert session_repo.purge_expired(T0 + timedelta(days=30)) == expected

    def test_purging_forgets_lapsed_login_windows(
        self, attempt_repo: LoginAttemptRepository
    ) -> None:
        window = timedelta(minutes=15)
        attempt_repo.record_failure("old", T0, T0 - window)
        attempt_repo.record_failure("new", T0 + window, T0)
        if attempt_repo.network_bound:
            from app.repositories.dynamodb import _attempt_key

            assert attempt_repo.purge_lapsed(T0 + window / 2) == 0
            ttl = dynamo_ttl(attempt_repo, _attempt_key("old"))
            assert ttl == int((T0 + window).timestamp())
            return
        assert attempt_repo.purge_lapsed(T0 + window / 2) == 1
        assert attempt_repo.get_window("old") is None
        assert attempt_repo.get_window("new") is not None
        assert attempt_repo.purge_lapsed(T0 + window / 2) == 0


class TestLoginAttempts:
    def test_failures_count_up_inside_a_window(self, attempt_repo: LoginAttemptRepository) -> None:
        start = T0 - timedelta(minutes=15)
        for expected in (1, 2, 3):
            window = attempt_repo.record_failure(
                "account:a", T0 + timedelta(seconds=expected), start
            )
            assert window.failures == expected
            assert window.started_at == T0 + timedelta(seconds=1)
        assert attempt_repo.get_window("account:a") == window
        assert attempt_repo.get_window("account:b") is None

    def test_a_lapsed_window_starts_over(self, attempt_repo: LoginAttemptRepository) -> None:
        attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15))
        attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15))
        later = T0 + timedelta(hours=1)
        window = attempt_repo.record_failure("k", later, later - timedelta(minutes=15))
        assert (window.failures, window.started_at) == (1, later)

    def test_clearing_forgets_the_failures(self, attempt_repo: LoginAttemptRepository) -> None:
        attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15))
        attempt_repo.clear("k")
        attempt_repo.clear("never-seen")
        assert attempt_repo.get_window("k") is None

    def test_concurrent_failures_are_all_counted(
        self, attempt_repo: LoginAttemptRepository
    ) -> None:
        def fail(_: int) -> int:
            return attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15)).failures

        with ThreadPoolExecutor(max_workers=10) as pool:
            counts = sorted(pool.map(fail, range(20)))
        assert counts == list(range(1, 21))

    def test_a_failure_taken_back_is_uncounted_never_below_zero(
        self, attempt_repo: LoginAttemptRepository
    ) -> None:
        start = T0 - timedelta(minutes=15)
        attempt_repo.record_failure("k", T0, start)
        attempt_repo.record_failure("k", T0, start)
        attempt_repo.remove_failure("k")
        assert attempt_repo.get_window("k") == AttemptWindow(key="k", started_at=T0, failures=1)
        attempt_repo.remove_failure("k")
        attempt_repo.remove_failure("k")
        assert attempt_repo.get_window("k") == AttemptWindow(key="k", started_at=T0, failures=0)
        assert attempt_repo.record_failure("k", T0, start).failures == 1
        attempt_repo.remove_failure("never-seen")
        assert attempt_repo.get_window("never-seen") is None

    def test_concurrent_counts_and_take_backs_balance(
        self, attempt_repo: LoginAttemptRepository
    ) -> None:
        def count_and_take_back(_: int) -> int:
            failures = attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15)).failures
            attempt_repo.remove_failure("k")
            return failures

        with ThreadPoolExecutor(max_workers=10) as pool:
            assert max(pool.map(count_and_take_back, range(20))) <= 10
        window = attempt_repo.get_window("k")
        assert window is not None and window.failures == 0


class TestSessionWithUser:
    def test_a_session_comes_with_its_user_in_one_read(
        self, user_repo: UserRepository, session_repo: SessionRepository
    ) -> None:
        user = user_repo.create_user("ada@example.com", "hash")
        other = user_repo.create_user("bob@example.com", "hash")
        session = make_session(user.id)
        session_repo.add_session(session, make_token(session))
        assert session_repo.get_session_with_user(session.id, user.id) == (session, user)
        assert session_repo.get_session_with_user(session.id, other.id) is None
        assert session_repo.get_session_with_user("missing", user.id) is None
        session_repo.revoke_session(session.id)
        found = session_repo.get_session_with_user(session.id, user.id)
        assert found is not None and found[0].revoked
        user_repo.delete_user(user.id)
        assert session_repo.get_session_with_user(session.id, user.id) is None


def make_action_token(
    purpose: str = "reset_password", user_id: str = "u1", expires_at: datetime | None = None
) -> ActionToken:
    return ActionToken(
        token_hash=new_id() + new_id(),
        purpose=purpose,  # type: ignore[arg-type]
        user_id=user_id,
        expires_at=expires_at or T0 + timedelta(minutes=30),
        fingerprint="ab" * 32,
    )


class TestActionTokens:
    def test_a_token_is_consumed_once_and_comes_back_unchanged(
        self, token_repo: ActionTokenRepository
    ) -> None:
        token = make_action_token()
        token_repo.add_token(token)
        assert token_repo.consume_token(token.token_hash, "reset_password") == token
        assert token_repo.consume_token(token.token_hash, "reset_password") is None
        assert token_repo.consume_token("unknown", "reset_password") is None

    def test_a_token_of_another_purpose_is_neither_returned_nor_consumed(
        self, token_repo: ActionTokenRepository
    ) -> None:
        token = make_action_token("verify_email")
        token_repo.add_token(token)
        assert token_repo.consume_token(token.token_hash, "reset_password") is None
        assert token_repo.consume_token(token.token_hash, "verify_email") == token

    def test_of_concurrent_consumers_exactly_one_gets_the_token(
        self, token_repo: ActionTokenRepository
    ) -> None:
        token = make_action_token()
        token_repo.add_token(token)
        with ThreadPoolExecutor(max_workers=10) as pool:
            found = list(
                pool.map(
                    lambda _: token_repo.consume_token(token.token_hash, "reset_password"),
                    range(10),
                )
            )
        assert [f for f in found if f is not None] == [token]

    def test_purging_forgets_expired_tokens_only(self, token_repo: ActionTokenRepository) -> None:
        expired = make_action_token(expires_at=T0)
        live = make_action_token(expires_at=T0 + timedelta(hours=1))
        for token in (expired, live):
            token_repo.add_token(token)
        now = T0 + timedelta(minutes=1)
        if token_repo.network_bound:
            # DynamoDB: its TTL deletes every token once expired.
            assert token_repo.purge_expired_tokens(now) == 0
            item = token_repo.client.get_item(  # type: ignore[attr-defined]
                TableName=token_repo.table,  # type: ignore[attr-defined]
                Key={"pk": {"S": "action#" + expired.token_hash}},
                ConsistentRead=True,
            )["Item"]
            assert int(item["expires_ttl"]["N"]) == int(T0.timestamp())
            return
        assert token_repo.purge_expired_tokens(now) == 1
        assert token_repo.purge_expired_tokens(now) == 0
        assert token_repo.consume_token(expired.token_hash, "reset_password") is None
        assert token_repo.consume_token(live.token_hash, "reset_password") == live
