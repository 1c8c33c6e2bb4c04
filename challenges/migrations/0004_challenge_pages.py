"""A challenge's pages: overview, rules, data, timeline note and citation, in Markdown."""

from django.db import migrations, models

MARKDOWN_HELP = "Markdown; raw HTML is limited to safe tags, links to http(s) and mailto."


class Migration(migrations.Migration):

    dependencies = [
        ("challenges", "0003_primary_metric_length"),
    ]

    operations = [
        migrations.AlterField(
            model_name="challenge",
            name="description",
            field=models.TextField(blank=True, help_text="One line, shown on the challenge's "
                                   "card and at the top of its pages."),
        ),
        migrations.AddField(
            model_name="challenge",
            name="overview",
            field=models.TextField(blank=True, help_text=MARKDOWN_HELP),
        ),
        migrations.AddField(
            model_name="challenge",
            name="rules",
            field=models.TextField(blank=True, help_text=MARKDOWN_HELP),
        ),
        migrations.AddField(
            model_name="challenge",
            name="data_description",
            field=models.TextField(blank=True, help_text=MARKDOWN_HELP),
        ),
        migrations.AddField(
            model_name="challenge",
            name="timeline",
            field=models.TextField(blank=True, help_text="Shown under the dates of the phases. "
                                   + MARKDOWN_HELP),
        ),
        migrations.AddField(
            model_name="challenge",
            name="citation",
            field=models.TextField(blank=True, help_text="How to cite the challenge, shown with "
                                   "each task's dataset. " + MARKDOWN_HELP),
        ),
    ]
