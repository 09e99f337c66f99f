"""Pages cost the same number of SQL statements however long the lists behind them get."""

from tests.support.queries import grow, statements_per_page


def test_pages_cost_a_constant_number_of_statements_at_any_size(app):
    grow(app, newsletters=5, readers=100)
    small = statements_per_page(app)
    grow(app, newsletters=50, readers=100_000)
    large = statements_per_page(app)
    assert large == small, f"5 newsletters, 100 readers: {small}; 50 and 100,000: {large}"
    # And the constant is small: a handful of statements, not one per row shown.
    assert max(small.values()) <= 8, small
