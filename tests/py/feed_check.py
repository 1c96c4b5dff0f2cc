"""Parses a feed with feedparser and prints, as JSON, whether it is well-formed (bozo) and
its entries. Usage: python3 feed_check.py < feed.xml
"""
import json
import sys

import feedparser


def main():
    data = sys.stdin.buffer.read()
    parsed = feedparser.parse(data)
    json.dump(
        {
            "bozo": bool(parsed.bozo),
            "bozo_exception": str(parsed.get("bozo_exception", "")),
            "version": parsed.get("version"),
            "title": parsed.feed.get("title"),
            "entries": [
                {
                    "title": e.get("title"),
                    "id": e.get("id"),
                    "link": e.get("link"),
                    "author": e.get("author"),
                }
                for e in parsed.entries
            ],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
