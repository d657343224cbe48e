"""Names and defaults shared by every module: column names, the genre list, dataset sizes."""

from __future__ import annotations

# Column names of every interaction table in the course.
USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"

# The 19 MovieLens-100K genres, in the column order of GroupLens's u.item / u.genre.
GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

# Facts about MovieLens-100K that the loaders and the data tests check.
ML100K_N_USERS = 943
ML100K_N_ITEMS = 1682
ML100K_N_RATINGS = 100_000

DEFAULT_SEED = 42
