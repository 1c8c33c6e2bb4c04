"""Case results keep their metric values in one map, keyed by the metric registry's names,
instead of one column per metric; detection rows gain their per-image VOC decisions."""

from django.db import migrations, models

METRICS = ("dice", "nsd", "hd", "hd95", "assd")


def columns_to_values(apps, schema_editor):
    CaseResult = apps.get_model("evaluation", "CaseResult")
    batch = []
    for row in CaseResult.objects.all().iterator(chunk_size=2000):
        row.values = {metric: getattr(row, metric) for metric in METRICS}
        batch.append(row)
        if len(batch) >= 2000:
            CaseResult.objects.bulk_update(batch, ["values"])
            batch = []
    CaseResult.objects.bulk_update(batch, ["values"])


def values_to_columns(apps, schema_editor):
    CaseResult = apps.get_model("evaluation", "CaseResult")
    batch = []
    for row in CaseResult.objects.all().iterator(chunk_size=2000):
        for metric in METRICS:
            setattr(row, metric, row.values.get(metric))
        batch.append(row)
        if len(batch) >= 2000:
            CaseResult.objects.bulk_update(batch, list(METRICS))
            batch = []
    CaseResult.objects.bulk_update(batch, list(METRICS))


class Migration(migrations.Migration):

    dependencies = [
        ("evaluation", "0003_validating"),
    ]

    operations = [
        migrations.AddField(
            model_name="caseresult",
            name="values",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="caseresult",
            name="matches",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(columns_to_values, values_to_columns),
        *(migrations.RemoveField(model_name="caseresult", name=metric) for metric in METRICS),
        migrations.AlterField(
            model_name="caseresult",
            name="label",
            field=models.IntegerField(help_text="Segmentation: the label value; detection: the "
                                                "class's index in the task's sorted class "
                                                "names."),
        ),
    ]
