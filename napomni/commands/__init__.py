"""The subcommands of ``napomni``, one module per domain.

A new module adds itself to :func:`registered_commands`; each module keeps its heavy
imports inside its command functions.
"""

from __future__ import annotations

import click

__all__ = ["registered_commands"]


def registered_commands() -> list[click.Command]:
    """Every top-level subcommand, in the order ``--help`` lists them."""
    from napomni.commands import bench, demo, importing, sample
    from napomni.commands import db as db_commands
    from napomni.commands import segment as segment_commands
    from napomni.commands.backup import backup, restore
    from napomni.commands.call import call
    from napomni.commands.campaign import campaign
    from napomni.commands.classifier_cmd import classifier
    from napomni.commands.classify import classify
    from napomni.commands.deploy import deploy
    from napomni.commands.messages import messages
    from napomni.commands.script_cmd import script
    from napomni.commands.serve import serve
    from napomni.commands.speech_cmd import models, say, transcribe
    from napomni.commands.user import user
    from napomni.commands.worker import worker

    return [
        bench.bench,
        demo.demo,
        db_commands.db,
        importing.import_group,
        sample.sample,
        segment_commands.segment,
        classify,
        classifier,
        script,
        serve,
        *(transcribe, say, models),
        user,
        campaign,
        worker,
        call,
        messages,
        backup,
        restore,
        deploy,
    ]
