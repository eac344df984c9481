"""One page of a list ordered newest first by (created, id)."""

import sqlalchemy as sa


def newest_first_page(session, stmt, model, limit, after=None):
    """Up to limit rows of stmt (a select of model), newest first, after
    the (created, id) given: a range scan of a (..., created, id) index,
    so a page costs the same however deep in the list it is."""
    if after is not None:
        created, row_id = after
        # The first bound is implied by the second, but without it SQLite
        # does not seek the (..., created, id) index to the marker and walks
        # every newer row. (A row-value comparison would make MariaDB scan.)
        stmt = stmt.where(model.created <= created, sa.or_(
            model.created < created,
            sa.and_(model.created == created, model.id < row_id)))
    stmt = stmt.order_by(model.created.desc(), model.id.desc()).limit(limit)
    return list(session.execute(stmt).scalars())
