"""What ``import_msd_task`` and ``import_dicom_collection`` print when an import finished."""

from django.core.management.base import BaseCommand

from ..services.importing import ImportResult


def write_import_result(command: BaseCommand, result: ImportResult, *,
                        content: str = "source content") -> None:
    """The task, ground-truth version and phase (each created or unchanged), where the labels
    come from when the version records it (``content`` names what its source hash is of), the
    evaluations queued, and the import's notes as warnings, on ``command``'s stdout."""
    gt = result.ground_truth
    command.stdout.write(
        f"task {result.task.key} ({len(result.task.cases)} test cases): "
        f"{'created' if result.task_created else 'unchanged'}; "
        f"ground truth v{gt.version} {gt.content_sha256[:12]}: "
        f"{'created' if result.ground_truth_created else 'unchanged'}; "
        f"phase {result.phase.id} ({result.phase.name})"
    )
    if gt.source_collection or gt.source_sha256:
        command.stdout.write(
            f"source: {gt.source_collection or '(no collection named)'}"
            f"{' version ' + gt.source_version if gt.source_version else ''}"
            f"{f', {content} {gt.source_sha256[:12]}' if gt.source_sha256 else ''}")
    if result.queued:
        command.stdout.write(f"{result.queued} evaluations queued against v{gt.version}")
    for note_line in result.notes:
        command.stdout.write(command.style.WARNING(note_line))
