"""Per-run options (collectstatic's command-line flags) and the run summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunOptions:
    clear: bool = False
    dry_run: bool = False
    link: bool = False
    post_process: bool = True
    workers: int = 4


@dataclass
class Summary:
    """What a run did; ``line()`` is Django's collectstatic summary."""

    root: str
    copied: list[str] = field(default_factory=list)
    unmodified: list[str] = field(default_factory=list)
    post_processed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    link: bool = False

    def line(self) -> str:
        count = len(self.copied)
        text = (
            f"{count} static file{'' if count == 1 else 's'} "
            f"{'symlinked' if self.link else 'copied'} to '{self.root}'"
        )
        if self.unmodified:
            text += f", {len(self.unmodified)} unmodified"
        if self.post_processed:
            text += f", {len(self.post_processed)} post-processed"
        return text + "."
