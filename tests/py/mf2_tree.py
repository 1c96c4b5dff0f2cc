"""Parses an HTML page with mf2py (the reference microformats2 parser) and prints, as JSON,
the h-entries it finds with their comment trees: what a reader or a webmention tool sees.

Usage: python3 mf2_tree.py BASE_URL < page.html
"""
import json
import sys

import mf2py


def first_text(props, name):
    values = props.get(name) or []
    if not values:
        return None
    value = values[0]
    if isinstance(value, dict):
        return value.get("value") or (value.get("properties", {}).get("name") or [None])[0]
    return value


def author_of(props):
    authors = props.get("author") or []
    if not authors:
        return {"name": None, "url": None, "photo": None}
    author = authors[0]
    if not isinstance(author, dict):
        return {"name": author, "url": None, "photo": None}
    aprops = author.get("properties", {})
    photo = (aprops.get("photo") or [None])[0]
    if isinstance(photo, dict):
        photo = photo.get("value")
    return {
        "name": (aprops.get("name") or [None])[0],
        "url": (aprops.get("url") or [None])[0],
        "photo": photo,
    }


def comment_tree(item):
    props = item.get("properties", {})
    content = (props.get("content") or [{}])[0]
    return {
        "type": item.get("type"),
        "author": author_of(props),
        "published": first_text(props, "published"),
        "url": first_text(props, "url"),
        "content": content.get("value") if isinstance(content, dict) else content,
        "comments": [comment_tree(c) for c in props.get("comment", []) if isinstance(c, dict)],
    }


def entries(items):
    for item in items:
        if "h-entry" in item.get("type", []):
            yield item
        for child in item.get("children", []) or []:
            yield from entries([child])


def main():
    base = sys.argv[1]
    parsed = mf2py.parse(doc=sys.stdin.read(), url=base)
    out = []
    for entry in entries(parsed.get("items", [])):
        props = entry.get("properties", {})
        content = (props.get("content") or [{}])[0]
        out.append(
            {
                "name": first_text(props, "name"),
                "url": first_text(props, "url"),
                "published": first_text(props, "published"),
                "updated": first_text(props, "updated"),
                "author": author_of(props),
                "category": props.get("category", []),
                "content_html": content.get("html") if isinstance(content, dict) else None,
                "comments": [comment_tree(c) for c in props.get("comment", []) if isinstance(c, dict)],
            }
        )
    top_types = [item.get("type") for item in parsed.get("items", [])]
    json.dump({"top_types": top_types, "entries": out}, sys.stdout)


if __name__ == "__main__":
    main()
