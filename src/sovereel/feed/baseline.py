"""The interim For You ranking: recency × engagement among eligible videos (no learning, no profile)."""

from __future__ import annotations

import math

from sovereel.feed.interface import CandidateWorld, FeedItem, FeedPage, FeedRequest, Reason, VideoInfo

HALF_LIFE_H = 48.0
PARAMS_VERSION = "baseline-1"


def engagement(v: VideoInfo) -> float:
    """Weighted engagement count: deliberate actions weigh more than views."""
    return 1.0 + v.view_count * 0.1 + v.like_count * 2.0 + v.comment_count * 3.0 + v.share_count * 4.0


def baseline_terms(v: VideoInfo, now: float) -> dict[str, float]:
    age_h = max(0.0, now - v.created_at) / 3600.0
    return {"engagement": math.log1p(engagement(v)), "recency": 0.5 ** (age_h / HALF_LIFE_H)}


class RecencyEngagementRecommender:
    """Ranks by log-engagement × recency decay; seen videos go last, so the feed never runs dry."""

    name = "recency-engagement"

    def recommend(self, request: FeedRequest, world: CandidateWorld) -> FeedPage:
        scored = []
        for v in world.videos.values():
            terms = baseline_terms(v, request.now)
            score = terms["engagement"] * terms["recency"]
            scored.append((v.id in world.seen, -score, v.id, terms, score))
        scored.sort()
        offset = int(request.cursor) if request.cursor and request.cursor.isdigit() else 0
        chosen = scored[offset : offset + request.limit]
        items = []
        for seen, _neg, vid, terms, score in chosen:
            words = ["Popular and recent in your region"]
            if seen:
                words = ["You have watched everything newer; this one again"]
            items.append(
                FeedItem(
                    video_id=vid,
                    reason=Reason(
                        sources=["recent_popular"] + (["rewatch"] if seen else []),
                        model_version=self.name,
                        params_version=PARAMS_VERSION,
                        score=score,
                        terms=terms,
                        explanation=words,
                    ),
                )
            )
        nxt = offset + len(chosen)
        return FeedPage(items=items, next_cursor=str(nxt) if nxt < len(scored) else None)
