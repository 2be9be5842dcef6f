"""DynamoDB: three tables where every request path is a GetItem, a Query or a conditional write.

- users: key `pk`. A user is `user#<id>`; its email marker `email#<email>` (holding `user_id`)
  is written in the same transaction, both `attribute_not_exists`, so the database itself keeps
  emails unique. GSI `by_created` (constant `entity`, `created_sk`) lists users newest first.
  The same table keeps what belongs to users: sessions `session#<id>` and refresh tokens
  `refresh#<hash>` (listed per user through `entity` = `session#<user id>` or
  `refresh#<user id>` in the same GSI), login-failure counters `attempt#<key>` and one-time
  tokens `action#<hash>`; all four carry `expires_ttl`, so DynamoDB's TTL deletes them once
  they are useless. A user item written before `is_verified` and `is_superuser` existed
  lacks them and reads as verified and no administrator (the models' defaults). One item
  `meta#database` holds the database's id (`Repositories.database_id`).
- projects: key `id`; GSI `by_owner` (`owner_id`, `created_sk`) lists one owner's projects.
- files: key (`project_id`, `id`); LSI `by_created` (`project_id`, `created_sk`) lists a
  project's files with strongly consistent reads.

`created_sk` is `created_at#id` with created_at as fixed-width UTC text (`sql.to_text`), so
string order is (created_at, id) order and "after this page key" is a key condition `<`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from app.core.aws import all_reachable
from app.errors import BackendUnavailable, EmailAlreadyRegistered, NotFound
from app.models import (
    FIRST_VERSION,
    ActionToken,
    AttemptWindow,
    FileRecord,
    Page,
    PageKey,
    Project,
    RefreshToken,
    Session,
    TokenPurpose,
    User,
    new_id,
)
from app.repositories.base import (
    PROJECT_FIELDS,
    USER_FIELDS,
    ActionTokenRepository,
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    Repositories,
    SessionRepository,
    UserRepository,
    checked_changes,
    project_update_refused,
    replacement,
)
from app.repositories.memory import newest_first_page
from app.repositories.sql import to_column, to_text

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        CreateTableInputTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestUnionTypeDef,
    )

    from app.core.config import Settings

    Item = Mapping[str, AttributeValueTypeDef]

Model = TypeVar("Model", User, Project, FileRecord)
Stored = TypeVar("Stored", bound=BaseModel)


USER_PREFIX = "user#"
EMAIL_PREFIX = "email#"
SESSION_PREFIX = "session#"
REFRESH_PREFIX = "refresh#"
ATTEMPT_PREFIX = "attempt#"
ACTION_PREFIX = "action#"
DATABASE_ID_KEY = "meta#database"
TTL_ATTRIBUTE = "expires_ttl"
ALL_USERS = "user"
"""The one partition of the users index: user registrations are far below its write limit."""
USERS_INDEX = "by_created"
PROJECTS_INDEX = "by_owner"
FILES_INDEX = "by_created"
BATCH_SIZE = 25
"""BatchWriteItem's limit per request."""
ATTEMPTS = 8
CONDITION_FAILED = "ConditionalCheckFailed"
MAX_KEY_BYTES = 2048
"""DynamoDB refuses (ValidationException) a partition key longer than this in UTF-8."""

LOCATION_SETTING = "DYNAMODB_TABLE_PREFIX"
ONE_PROCESS = False

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class TableNames:
    users: str
    projects: str
    files: str


def sort_key(created_at: datetime, item_id: str) -> str:
    """`created_at#id`: string order equals the (created_at, id) order of every list."""
    return f"{to_text(created_at)}#{item_id}"


def _string(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _fits(key: str) -> bool:
    """Whether DynamoDB accepts `key` as a partition key: one that does not was never stored."""
    return len(key.encode()) <= MAX_KEY_BYTES


def _attempt_key(key: str) -> Item:
    """The item of a login-failure counter. A key DynamoDB would refuse (a client may send any
    username) is counted under its digest; `sha256:` starts no key the throttle makes."""
    pk = ATTEMPT_PREFIX + key
    if not _fits(pk):
        pk = ATTEMPT_PREFIX + "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return {"pk": _string(pk)}


def _attribute(value: Any) -> AttributeValueTypeDef:
    """A model's value as an attribute, timestamps as fixed-width text like every backend."""
    return _serializer.serialize(to_column(value))


def to_item(model: BaseModel, **extra: str) -> dict[str, AttributeValueTypeDef]:
    """A model as a DynamoDB item."""
    return {name: _attribute(value) for name, value in {**model.model_dump(), **extra}.items()}


def to_model(model: type[Stored], item: Item) -> Stored:
    """The domain model in an item, ignoring key attributes that only serve the tables; an
    attribute the item lacks (a project's `version`, on items written before it) takes the
    model's default."""
    fields = {
        name: _deserializer.deserialize(item[name]) for name in model.model_fields if name in item
    }
    return model.model_validate(fields)


def set_clause(
    values: Mapping[str, Any],
) -> tuple[str, dict[str, str], dict[str, AttributeValueTypeDef]]:
    """`SET #a = :a, ...` for the attributes in `values`, with its names and values; every
    attribute goes through a placeholder, as `name` is one of DynamoDB's reserved words."""
    expression = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
    names = {f"#{name}": name for name in values}
    return expression, names, {f":{name}": _attribute(value) for name, value in values.items()}


def _definition(
    name: str,
    keys: Sequence[str],
    index: str,
    index_keys: Sequence[str],
    *,
    local: bool = False,
) -> CreateTableInputTypeDef:
    """An on-demand table of string keys with one newest-first index."""
    key_schema = [
        {"AttributeName": keys[0], "KeyType": "HASH"},
        *({"AttributeName": key, "KeyType": "RANGE"} for key in keys[1:]),
    ]
    index_schema = {
        "IndexName": index,
        "KeySchema": [
            {"AttributeName": index_keys[0], "KeyType": "HASH"},
            {"AttributeName": index_keys[1], "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    attributes = dict.fromkeys([*keys, *index_keys])
    definition: CreateTableInputTypeDef = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": key_schema,  # type: ignore[typeddict-item]
        "BillingMode": "PAY_PER_REQUEST",
    }
    if local:
        definition["LocalSecondaryIndexes"] = [index_schema]  # type: ignore[list-item]
    else:
        definition["GlobalSecondaryIndexes"] = [index_schema]  # type: ignore[list-item]
    return definition


def table_definitions(tables: TableNames) -> list[CreateTableInputTypeDef]:
    """The three tables, as CreateTable requests (also the reference for docs/production.md)."""
    return [
        _definition(tables.users, ["pk"], USERS_INDEX, ["entity", "created_sk"]),
        _definition(tables.projects, ["id"], PROJECTS_INDEX, ["owner_id", "created_sk"]),
        _definition(
            tables.files,
            ["project_id", "id"],
            FILES_INDEX,
            ["project_id", "created_sk"],
            local=True,
        ),
    ]


class DynamoDatabase:
    """The client and the tables the three repositories share, like one database file."""

    def __init__(self, client: DynamoDBClient, tables: TableNames, *, create: bool) -> None:
        self.client = client
        self.tables = tables
        self.ensure_tables(create)
        self.database_id = self._identify()

    def _identify(self) -> str:
        """The id of these tables, made by the first opener (a conditional put) and read back."""
        key = {"pk": _string(DATABASE_ID_KEY)}
        try:
            with suppress(self.client.exceptions.ConditionalCheckFailedException):
                self.client.put_item(
                    TableName=self.tables.users,
                    Item={**key, "database_id": _string(new_id())},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            item = self.client.get_item(TableName=self.tables.users, Key=key, ConsistentRead=True)
        except (BotoCoreError, ClientError) as error:
            raise BackendUnavailable(f"Cannot reach DynamoDB: {error}") from error
        return str(item["Item"]["database_id"]["S"])

    def _exists(self, table: str) -> bool:
        try:
            self.client.describe_table(TableName=table)
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return True

    def ensure_tables(self, create: bool) -> None:
        """Create missing tables when asked to; otherwise fail fast naming them."""
        try:
            missing = [
                d for d in table_definitions(self.tables) if not self._exists(d["TableName"])
            ]
            if missing and not create:
                names = ", ".join(d["TableName"] for d in missing)
                raise BackendUnavailable(
                    f"Missing DynamoDB tables: {names}. Run `hangar init` or set "
                    "AWS_AUTO_CREATE=true to create them."
                )
            for definition in missing:
                # ResourceInUse: another instance is creating the same table right now.
                with suppress(self.client.exceptions.ResourceInUseException):
                    self.client.create_table(**definition)
            waiter = self.client.get_waiter("table_exists")
            for definition in missing:
                waiter.wait(
                    TableName=definition["TableName"], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
                )
            if any(d["TableName"] == self.tables.users for d in missing):
                self.client.update_time_to_live(
                    TableName=self.tables.users,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
                )
        except (BotoCoreError, ClientError) as error:
            raise BackendUnavailable(f"Cannot reach DynamoDB: {error}") from error

    def close(self) -> None:
        self.client.close()


class _DynamoRepository:
    network_bound: ClassVar[bool] = True

    def __init__(self, db: DynamoDatabase, table: str) -> None:
        self.client = db.client
        self.table = table

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every public method of a repository goes through `reachable`: an unreachable
        DynamoDB is BackendUnavailable."""
        super().__init_subclass__(**kwargs)
        all_reachable("DynamoDB", cls)

    def ping(self) -> None:
        self.client.describe_table(TableName=self.table)

    def _get(self, model: type[Stored], key: Item) -> Stored | None:
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return to_model(model, item) if item is not None else None

    def _page(
        self,
        model: type[Model],
        index: str,
        partition: tuple[str, str],
        limit: int,
        after: PageKey | None,
        *,
        consistent: bool = False,
        prefix: tuple[str, str] | None = None,
    ) -> Page[Model]:
        """Query one partition of an index newest first, for limit + 1 items (across DynamoDB's
        1 MB response pages), so next_key is set exactly when a further item exists; with
        `prefix` (an attribute and its start), only items whose attribute starts with it (a
        filter: DynamoDB reads the items it skips, and the loop asks on until it has enough)."""
        condition = "#partition = :partition"
        names = {"#partition": partition[0]}
        values: dict[str, AttributeValueTypeDef] = {":partition": _string(partition[1])}
        if after is not None:
            condition += " AND created_sk < :after"
            values[":after"] = _string(sort_key(*after))
        if prefix is not None:
            names["#filtered"] = prefix[0]
            values[":prefix"] = _string(prefix[1])
        request: QueryInputTypeDef = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "ConsistentRead": consistent,
        }
        if prefix is not None:
            request["FilterExpression"] = "begins_with(#filtered, :prefix)"
        found: list[Model] = []
        while len(found) <= limit:
            if prefix is None:  # a filtered page reads on, up to 1 MB per round trip
                request["Limit"] = limit + 1 - len(found)
            response = self.client.query(**request)
            found += [to_model(model, item) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return newest_first_page(found, limit, None)

    def _update(
        self,
        key: Item,
        update: tuple[str, dict[str, str], dict[str, AttributeValueTypeDef]],
        condition: str,
    ) -> tuple[Item, bool]:
        """One UpdateItem (`update` as `set_clause` builds it) applied only while `condition`
        holds: the item as now stored and True, or the item as it was (empty if there is
        none) and False."""
        expression, names, values = update
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            return cast("Item", error.response.get("Item", {})), False
        return response["Attributes"], True

    def _put_if(
        self,
        item: dict[str, AttributeValueTypeDef],
        parent: tuple[str, Item, str, dict[str, AttributeValueTypeDef]],
        *,
        new: str | None = None,
    ) -> bool:
        """Put `item` (only while the condition `new` holds for it, if given) in one
        transaction with a ConditionCheck on its parent (table, key, condition, values), so a
        delete of the parent cannot land between the check and the write: whether the parent
        was there."""
        table, key, condition, values = parent
        put: TransactWriteItemTypeDef = {"Put": {"TableName": self.table, "Item": item}}
        if new is not None:
            put["Put"]["ConditionExpression"] = new
        codes = self._transact(
            [
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key,
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": values,
                    }
                },
                put,
            ]
        )
        if codes and codes[0] == CONDITION_FAILED:
            return False
        if codes:
            raise _unexpected(codes)
        return True

    def _transact(self, items: Sequence[TransactWriteItemTypeDef]) -> list[str]:
        """Run one transaction: [] when it committed, else each item's cancellation reason.
        Conflicts with a concurrent transaction are retried, so a caller sees the real outcome
        (a failed condition) rather than a transient clash."""
        for attempt in range(ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return []
            except self.client.exceptions.TransactionCanceledException as error:
                reasons = error.response.get("CancellationReasons", [])
                codes = [reason.get("Code", "None") for reason in reasons]
                if "TransactionConflict" not in codes:
                    return codes
                time.sleep(0.01 * 2**attempt)
        raise BackendUnavailable("The database is busy with conflicting writes; try again")


all_reachable("DynamoDB", _DynamoRepository)  # its `ping`; subclasses wrap their own


def _write_batch(
    client: DynamoDBClient, table: str, requests: Sequence[WriteRequestUnionTypeDef]
) -> None:
    """One BatchWriteItem, retrying what DynamoDB leaves unprocessed under load."""
    for attempt in range(ATTEMPTS):
        response = client.batch_write_item(RequestItems={table: requests})
        requests = response.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return
        time.sleep(0.05 * 2**attempt)
    raise BackendUnavailable("DynamoDB kept throttling a batch of deletes")


def _unexpected(codes: list[str]) -> BackendUnavailable:
    return BackendUnavailable(f"DynamoDB cancelled the transaction: {', '.join(codes)}")


class DynamoUserRepository(_DynamoRepository, UserRepository):
    def __init__(self, db: DynamoDatabase) -> None:
        super().__init__(db, db.tables.users)

    def add_user(self, user: User) -> User:
        item = to_item(
            user,
            pk=USER_PREFIX + user.id,
            entity=ALL_USERS,
            created_sk=sort_key(user.created_at, user.id),
        )
        marker = {"pk": _string(EMAIL_PREFIX + user.email), "user_id": _string(user.id)}
        new = "attribute_not_exists(pk)"
        codes = self._transact(
            [
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": new}},
                {"Put": {"TableName": self.table, "Item": marker, "ConditionExpression": new}},
            ]
        )
        if codes and codes[1] == CONDITION_FAILED:
            raise EmailAlreadyRegistered()
        if codes:
            raise _unexpected(codes)
        return user

    def get_user(self, user_id: str) -> User | None:
        return self._get(User, {"pk": _string(USER_PREFIX + user_id)})

    def get_user_by_email(self, email: str) -> User | None:
        if not _fits(EMAIL_PREFIX + email):
            return None
        key = {"pk": _string(EMAIL_PREFIX + email)}
        marker = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        user_id = marker.get("Item", {}).get("user_id", {}).get("S")
        return self.get_user(user_id) if user_id is not None else None

    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        item, updated = self._update(
            {"pk": _string(USER_PREFIX + user_id)},
            set_clause(checked_changes(changes, USER_FIELDS)),
            "attribute_exists(pk)",
        )
        if not updated:
            raise NotFound("User not found")
        return to_model(User, item)

    def delete_user(self, user_id: str) -> bool:
        """Delete the user and its email marker together; the email never changes, so the
        marker read here is the one to remove."""
        user = self.get_user(user_id)
        if user is None:
            return False
        codes = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": _string(USER_PREFIX + user_id)},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": _string(EMAIL_PREFIX + user.email)},
                        "ConditionExpression": "user_id = :id",
                        "ExpressionAttributeValues": {":id": _string(user_id)},
                    }
                },
            ]
        )
        if codes and codes[0] == CONDITION_FAILED:
            return False
        if codes:
            raise _unexpected(codes)
        return True

    def list_users(
        self, *, limit: int, after: PageKey | None = None, email_prefix: str | None = None
    ) -> Page[User]:
        prefix = None if email_prefix is None else ("email", email_prefix)
        return self._page(User, USERS_INDEX, ("entity", ALL_USERS), limit, after, prefix=prefix)


class DynamoProjectRepository(_DynamoRepository, ProjectRepository):
    def __init__(self, db: DynamoDatabase) -> None:
        super().__init__(db, db.tables.projects)
        self.users_table = db.tables.users

    def add_project(self, project: Project) -> Project:
        owner = (
            self.users_table,
            {"pk": _string(USER_PREFIX + project.owner_id)},
            "attribute_exists(pk) AND is_active = :true",
            {":true": _attribute(True)},
        )
        item = to_item(project, created_sk=sort_key(project.created_at, project.id))
        if not self._put_if(item, owner, new="attribute_not_exists(id)"):
            raise NotFound("User not found")
        return project

    def get_project(self, project_id: str) -> Project | None:
        return self._get(Project, {"id": _string(project_id)})

    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        return self._page(Project, PROJECTS_INDEX, ("owner_id", user_id), limit, after)

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        """An item written before versions has none: it counts as FIRST_VERSION, and its
        first update stores FIRST_VERSION + 1."""
        expression, names, values = set_clause(checked_changes(changes, PROJECT_FIELDS))
        expression += ", #version = if_not_exists(#version, :first) + :one"
        names["#version"] = "version"
        values.update({":first": _attribute(FIRST_VERSION), ":one": _attribute(1)})
        condition = "attribute_exists(id) AND owner_id = :owner"
        values[":owner"] = _string(owner_id)
        if expected_version is not None:
            matches = ["#version = :expected"]
            if expected_version == FIRST_VERSION:
                matches.append("attribute_not_exists(#version)")
            condition += f" AND ({' OR '.join(matches)})"
            values[":expected"] = _attribute(expected_version)
        item, updated = self._update(
            {"id": _string(project_id)}, (expression, names, values), condition
        )
        if not updated:
            raise project_update_refused(to_model(Project, item) if item else None, owner_id)
        return to_model(Project, item)

    def replace_project(self, project: Project) -> Project:
        expression, names, values = set_clause(replacement(project))
        values[":owner"] = _string(project.owner_id)
        item, updated = self._update(
            {"id": _string(project.id)},
            (expression, names, values),
            "attribute_exists(id) AND owner_id = :owner",
        )
        if not updated:
            raise NotFound("Project not found")
        return to_model(Project, item)

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"id": _string(project_id)},
                ConditionExpression="owner_id = :owner",
                ExpressionAttributeValues={":owner": _string(owner_id)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoFileRepository(_DynamoRepository, FileRepository):
    def __init__(self, db: DynamoDatabase) -> None:
        super().__init__(db, db.tables.files)
        self.projects_table = db.tables.projects

    def add_file(self, record: FileRecord) -> FileRecord:
        project = (
            self.projects_table,
            {"id": _string(record.project_id)},
            "attribute_exists(id) AND owner_id = :owner",
            {":owner": _string(record.owner_id)},
        )
        item = to_item(record, created_sk=sort_key(record.created_at, record.id))
        if not self._put_if(item, project):
            raise NotFound("Project not found")
        return record

    def get_file(self, project_id: str, file_id: str) -> FileRecord | None:
        return self._get(FileRecord, {"project_id": _string(project_id), "id": _string(file_id)})

    def list_files(
        self, project_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[FileRecord]:
        partition = ("project_id", project_id)
        return self._page(FileRecord, FILES_INDEX, partition, limit, after, consistent=True)

    def delete_file(self, project_id: str, file_id: str) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"project_id": _string(project_id), "id": _string(file_id)},
                ConditionExpression="attribute_exists(id)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        """Query the project's partition, then delete in batches of 25, retrying what DynamoDB
        leaves unprocessed under load."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="project_id = :project",
            ExpressionAttributeValues={":project": _string(project_id)},
            ConsistentRead=True,
        )
        records = [to_model(FileRecord, item) for page in pages for item in page["Items"]]
        for start in range(0, len(records), BATCH_SIZE):
            batch: list[WriteRequestUnionTypeDef] = [
                {"DeleteRequest": {"Key": {"project_id": _string(project_id), "id": _string(r.id)}}}
                for r in records[start : start + BATCH_SIZE]
            ]
            _write_batch(self.client, self.table, batch)
        return records


def _ttl(moment: datetime) -> dict[str, AttributeValueTypeDef]:
    return {TTL_ATTRIBUTE: {"N": str(int(moment.timestamp()))}}


class DynamoSessionRepository(_DynamoRepository, SessionRepository):
    """Sessions and refresh tokens live in the users table (see the module docstring)."""

    def __init__(self, db: DynamoDatabase) -> None:
        super().__init__(db, db.tables.users)

    def _session_item(self, session: Session) -> dict[str, AttributeValueTypeDef]:
        item = to_item(
            session,
            pk=SESSION_PREFIX + session.id,
            entity=SESSION_PREFIX + session.user_id,
            created_sk=sort_key(session.created_at, session.id),
        )
        return {**item, **_ttl(session.expires_at)}

    def _token_item(self, token: RefreshToken) -> dict[str, AttributeValueTypeDef]:
        item = to_item(
            token,
            pk=REFRESH_PREFIX + token.token_hash,
            entity=REFRESH_PREFIX + token.user_id,
            created_sk=sort_key(token.expires_at, token.token_hash),
        )
        return {**item, **_ttl(token.expires_at)}

    def add_session(self, session: Session, token: RefreshToken) -> None:
        new = "attribute_not_exists(pk)"
        codes = self._transact(
            [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._session_item(session),
                        "ConditionExpression": new,
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._token_item(token),
                        "ConditionExpression": new,
                    }
                },
            ]
        )
        if codes:
            raise _unexpected(codes)

    def get_session(self, session_id: str) -> Session | None:
        return self._get(Session, {"pk": _string(SESSION_PREFIX + session_id)})

    def get_session_with_user(self, session_id: str, user_id: str) -> tuple[Session, User] | None:
        """Both items live in the users table: one BatchGetItem, one round trip."""
        keys: Sequence[Item] = [
            {"pk": _string(SESSION_PREFIX + session_id)},
            {"pk": _string(USER_PREFIX + user_id)},
        ]
        found: dict[str, Item] = {}
        for attempt in range(ATTEMPTS):
            response = self.client.batch_get_item(
                RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}}
            )
            for item in response["Responses"].get(self.table, []):
                found[str(_deserializer.deserialize(item["pk"]))] = item
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table)
            if unprocessed is None:
                break
            keys = unprocessed["Keys"]
            time.sleep(0.01 * 2**attempt)
        session_item = found.get(SESSION_PREFIX + session_id)
        user_item = found.get(USER_PREFIX + user_id)
        if session_item is None or user_item is None:
            return None
        session = to_model(Session, session_item)
        return (session, to_model(User, user_item)) if session.user_id == user_id else None

    def add_refresh_token(self, token: RefreshToken) -> None:
        self.client.put_item(TableName=self.table, Item=self._token_item(token))

    def use_refresh_token(self, token_hash: str) -> tuple[RefreshToken | None, bool]:
        key = {"pk": _string(REFRESH_PREFIX + token_hash)}
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET used = :true",
                ConditionExpression="attribute_exists(pk) AND used = :false",
                ExpressionAttributeValues={":true": {"BOOL": True}, ":false": {"BOOL": False}},
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return self._get(RefreshToken, key), False
        return to_model(RefreshToken, response["Attributes"]), True

    def _set_revoked(self, session_id: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": _string(SESSION_PREFIX + session_id)},
                UpdateExpression="SET revoked = :true",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def revoke_session(self, session_id: str) -> bool:
        return self._set_revoked(session_id)

    def _owned(self, prefix: str, user_id: str) -> list[dict[str, AttributeValueTypeDef]]:
        """Every item of one kind that a user owns, through the users index."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=USERS_INDEX,
            KeyConditionExpression="entity = :entity",
            ExpressionAttributeValues={":entity": _string(prefix + user_id)},
        )
        return [dict(item) for page in pages for item in page["Items"]]

    def revoke_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        sessions = [to_model(Session, item) for item in self._owned(SESSION_PREFIX, user_id)]
        doomed = [s for s in sessions if not s.revoked and s.id != keep]
        return sum(self._set_revoked(session.id) for session in doomed)

    def delete_user_sessions(self, user_id: str) -> None:
        items = self._owned(SESSION_PREFIX, user_id) + self._owned(REFRESH_PREFIX, user_id)
        requests: list[WriteRequestUnionTypeDef] = [
            {"DeleteRequest": {"Key": {"pk": item["pk"]}}} for item in items
        ]
        for start in range(0, len(requests), BATCH_SIZE):
            _write_batch(self.client, self.table, requests[start : start + BATCH_SIZE])

    def purge_expired(self, now: datetime) -> int:
        """Nothing to do: every session and token carries `expires_ttl`, and DynamoDB's TTL
        deletes it once expired, without a scan of the table or a write billed to us. What TTL
        has not yet reached is harmless: `refresh_session` checks `expires_at` itself. A
        revoked session waits for its expiry, as its items' TTL says."""
        return 0


class DynamoLoginAttemptRepository(_DynamoRepository, LoginAttemptRepository):
    def __init__(self, db: DynamoDatabase) -> None:
        super().__init__(db, db.tables.users)

    def record_failure(self, key: str, now: datetime, window_start: datetime) -> AttemptWindow:
        """Count inside a live window, or start a new one; each step is a conditional write,
        and losing a race to another instance just means trying the other step again."""
        item_key = _attempt_key(key)
        lapsed = _string(to_text(window_start))
        for _ in range(ATTEMPTS):
            try:
                response = self.client.update_item(
                    TableName=self.table,
                    Key=item_key,
                    UpdateExpression="SET failures = failures + :one",
                    ConditionExpression="attribute_exists(pk) AND started_at >= :lapsed",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":lapsed": lapsed},
                    ReturnValues="ALL_NEW",
                )
                return to_model(AttemptWindow, response["Attributes"])
            except self.client.exceptions.ConditionalCheckFailedException:
                pass
            window = AttemptWindow(key=key, started_at=now, failures=1)
            # Useless once its window has passed: TTL may delete it from then on.
            item = {**to_item(window), **item_key, **_ttl(now + (now - window_start))}
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR started_at < :lapsed",
                    ExpressionAttributeValues={":lapsed": lapsed},
                )
                return window
            except self.client.exceptions.ConditionalCheckFailedException:
                continue
        raise BackendUnavailable("The database is busy with conflicting writes; try again")

    def remove_failure(self, key: str) -> None:
        with suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key=_attempt_key(key),
                UpdateExpression="SET failures = failures - :one",
                ConditionExpression="failures > :zero",
                ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}},
            )

    def get_window(self, key: str) -> AttemptWindow | None:
        return self._get(AttemptWindow, _attempt_key(key))

    def clear(self, key: str) -> None:
        self.client.delete_item(TableName=self.table, Key=_attempt_key(key))

    def purge_lapsed(self, window_start: datetime) -> int:
        """Nothing to do: a window's `expires_ttl` is set when it starts, one window length
        on, so DynamoDB's TTL deletes it once lapsed; `record_failure` restarts a lapsed one
        that TTL has not reached yet."""
        return 0


class DynamoActionTokenRepository(_DynamoRepository, ActionTokenRepository):
    """One-time tokens live in the users table (see the module docstring)."""

    def __init__(self, db: DynamoDatabase) -> None:
        super().__init__(db, db.tables.users)

    def add_token(self, token: ActionToken) -> None:
        item = {**to_item(token, pk=ACTION_PREFIX + token.token_hash), **_ttl(token.expires_at)}
        self.client.put_item(
            TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    def consume_token(self, token_hash: str, purpose: TokenPurpose) -> ActionToken | None:
        """One conditional DeleteItem returning the item it removed: of concurrent ones, the
        condition holds for the first alone."""
        key = ACTION_PREFIX + token_hash
        if not _fits(key):
            return None
        try:
            response = self.client.delete_item(
                TableName=self.table,
                Key={"pk": _string(key)},
                ConditionExpression="attribute_exists(pk) AND #purpose = :purpose",
                ExpressionAttributeNames={"#purpose": "purpose"},
                ExpressionAttributeValues={":purpose": _string(purpose)},
                ReturnValues="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return to_model(ActionToken, response["Attributes"])

    def purge_expired_tokens(self, now: datetime) -> int:
        """Nothing to do: every token carries `expires_ttl`, and DynamoDB's TTL deletes it;
        one TTL has not reached yet is refused by its `expires_at`."""
        return 0


def open_repositories(settings: Settings) -> Repositories:
    """The three tables of the settings' prefix; created first when AWS_AUTO_CREATE is on."""
    from app.core.aws import dynamodb_client

    tables = TableNames(
        users=settings.DYNAMODB_TABLE_PREFIX + settings.USERS_TABLE,
        projects=settings.DYNAMODB_TABLE_PREFIX + settings.PROJECTS_TABLE,
        files=settings.DYNAMODB_TABLE_PREFIX + settings.FILES_TABLE,
    )
    dynamo = DynamoDatabase(dynamodb_client(settings), tables, create=settings.AWS_AUTO_CREATE)
    return Repositories(
        DynamoUserRepository(dynamo),
        DynamoProjectRepository(dynamo),
        DynamoFileRepository(dynamo),
        DynamoSessionRepository(dynamo),
        DynamoLoginAttemptRepository(dynamo),
        DynamoActionTokenRepository(dynamo),
        close=dynamo.close,
        database_id=dynamo.database_id,
    )


def locate(settings: Settings) -> tuple[str, ...]:
    endpoint = settings.DYNAMODB_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or ""
    return (endpoint, settings.AWS_REGION, settings.DYNAMODB_TABLE_PREFIX)
