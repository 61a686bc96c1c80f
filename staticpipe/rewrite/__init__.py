"""Pure code: parse references, resolve them, hash names, rewrite CSS/JS."""
