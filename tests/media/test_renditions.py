"""The renditions list a player chooses from (`queries.videos.rendition_list`): read from what is stored."""

from __future__ import annotations

from sovereel.queries.videos import rendition_list
from sovereel.storage.models import Video


def video(renditions: dict[str, dict[str, object]]) -> Video:
    return Video(id="v1", renditions=renditions)


def test_each_stored_rendition_is_listed_smallest_first_with_its_size_and_url() -> None:
    listed = rendition_list(
        video(
            {
                "720": {"key": "k7", "width": 720, "height": 1280, "bytes": 900},
                "1080": {"key": "k10", "width": 1080, "height": 1920, "bytes": 2000},
                "360": {"key": "k3", "width": 360, "height": 640, "bytes": 300},
            }
        )
    )
    assert listed == [
        {"label": "360", "width": 360, "height": 640, "bytes": 300, "url": "/api/videos/v1/media/360"},
        {"label": "720", "width": 720, "height": 1280, "bytes": 900, "url": "/api/videos/v1/media/720"},
        {"label": "1080", "width": 1080, "height": 1920, "bytes": 2000, "url": "/api/videos/v1/media/1080"},
    ]


def test_a_small_source_lists_its_true_sizes_and_an_exchanged_copy_is_capped_by_its_label() -> None:
    small = rendition_list(
        video(
            {
                "720": {"key": "a", "width": 480, "height": 854, "bytes": 500},  # never upscaled
                "360": {"key": "b", "width": 360, "height": 640, "bytes": 200},
            }
        )
    )
    assert [(r["label"], r["width"], r["height"]) for r in small] == [("360", 360, 640), ("720", 480, 854)]
    # A copy from another region stores the source's size on every rendition.
    exchanged = rendition_list(video({"360": {"key": "c", "width": 1080, "height": 1920, "bytes": 10}}))
    assert (exchanged[0]["width"], exchanged[0]["height"]) == (360, 640)


def test_unknown_sizes_are_null_not_guessed() -> None:
    listed = rendition_list(video({"720": {"key": "k"}}))
    assert listed == [{"label": "720", "width": None, "height": None, "bytes": None, "url": "/api/videos/v1/media/720"}]
    assert rendition_list(video({})) == []
