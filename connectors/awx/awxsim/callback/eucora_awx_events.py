# The simulator's AWX event recorder: what AWX's own callback plugin does
# for a real AWX job, reduced to what the API's job_events and
# job_host_summaries show. Every event ansible-playbook raises is written as
# one JSON line to the file named by EUCORA_AWX_EVENTS; the stats event
# carries ansible's own per-host counters (AggregateStats.summarize).
from __future__ import annotations

DOCUMENTATION = '''
    name: eucora_awx_events
    type: aggregate
    short_description: write job events as JSON lines, as AWX records them
    description:
      - Writes every playbook, task and host event to the file named by the
        EUCORA_AWX_EVENTS environment variable, one JSON object a line.
    requirements:
      - enable in configuration (callbacks_enabled)
'''

import json
import os
import time
import uuid

from ansible.plugins.callback import CallbackBase

KEEP = ('msg', 'rc', 'stdout', 'stderr', 'changed', 'failed', 'skipped', 'skip_reason', 'unreachable', 'cmd', 'item', 'dest', 'path')
CUT = 4096


def _res(result):
    out = {}
    for k in KEEP:
        if k in result:
            v = result[k]
            if isinstance(v, str) and len(v) > CUT:
                v = v[:CUT] + '...'
            out[k] = v
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'eucora_awx_events'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get('EUCORA_AWX_EVENTS')
        self._out = open(self._path, 'a', buffering=1, encoding='utf-8') if self._path else None
        self._counter = 0
        self._playbook = ''
        self._play = ''
        self._task = ''
        self._task_uuid = ''
        self._play_uuid = ''

    def _emit(self, event, host='', parent='', **data):
        if self._out is None:
            return
        self._counter += 1
        rec = {
            'counter': self._counter,
            'event': event,
            'created': time.time(),
            'uuid': str(uuid.uuid4()),
            'parent_uuid': parent,
            'playbook': self._playbook,
            'play': self._play,
            'task': self._task,
            'host_name': host,
        }
        rec.update(data)
        self._out.write(json.dumps(rec, default=str) + '\n')

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(playbook._file_name)
        self._emit('playbook_on_start')

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._play_uuid = str(play._uuid)
        self._task = ''
        self._emit('playbook_on_play_start')

    def v2_playbook_on_no_hosts_matched(self):
        self._emit('playbook_on_no_hosts_matched', parent=self._play_uuid)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task = task.get_name()
        self._task_uuid = str(task._uuid)
        self._emit('playbook_on_task_start', parent=self._play_uuid, task_action=task.action)

    def _host(self, event, result, **data):
        r = result._result
        self._emit(event, host=result._host.get_name(), parent=self._task_uuid,
                   task_action=result._task.action, changed=bool(r.get('changed')), res=_res(r), **data)

    def v2_runner_on_ok(self, result):
        self._host('runner_on_ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._host('runner_on_failed', result, failed=not ignore_errors, ignore_errors=ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._host('runner_on_unreachable', result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._host('runner_on_skipped', result)

    def v2_runner_item_on_ok(self, result):
        self._host('runner_item_on_ok', result)

    def v2_runner_item_on_failed(self, result):
        self._host('runner_item_on_failed', result, failed=True)

    def v2_runner_item_on_skipped(self, result):
        self._host('runner_item_on_skipped', result)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        self._emit('playbook_on_stats', summaries={h: stats.summarize(h) for h in hosts})
        if self._out is not None:
            self._out.close()
            self._out = None
