using Microsoft.Extensions.Logging;

namespace DurableQueue.Forwarding;

public sealed partial class Forwarder
{
    /// <summary>
    /// Finds the messages a previous run held (received, never settled: their attempts are above zero) and sends them
    /// first, in delivery order, from a peek. The queue itself would hand them back only after their old leases expire,
    /// behind every message queued before that expiry, which would break their keys' order. Each outcome is recorded
    /// in the file; when the queue later hands such a message back it is acked (or dead-lettered) without a resend.
    /// The scan is skipped when no previous run can have held anything (see <see cref="ForwardedLog.OpenAsync"/>).
    /// </summary>
    private async Task RecoverAsync(CancellationToken stopping)
    {
        var (fileId, known, mayHaveHeld) = await _log.OpenAsync(stopping).ConfigureAwait(false);
        _fileId = fileId;
        _statusOpened.TrySetResult();
        if (!mayHaveHeld)
        {
            // No forwarder ran on this file before, or the last one of this queue stopped holding nothing: no scan.
            return;
        }

        var scanStart = _clock.GetUtcNow();
        var orphans = new List<MessageInfo>();
        MessageId? after = null;
        var done = false;
        while (!done)
        {
            var page = await _queue.GetMessagesAsync(ForwardingDefaults.ScanPage, after, stopping).ConfigureAwait(false);
            foreach (var info in page)
            {
                if (info.EnqueuedAt > scanStart)
                {
                    // Enqueued after this start: no earlier run can have held it.
                    done = true;
                    break;
                }

                if (info.Attempts > 0)
                {
                    orphans.Add(info);
                }
            }

            if (page.Count < ForwardingDefaults.ScanPage)
            {
                break;
            }

            after = page[^1].Id;
        }

        var orphanIds = orphans.Select(o => o.Id.Value).ToHashSet();
        await _log.ForgetAsync(known.Keys.Where(id => !orphanIds.Contains(id)), stopping).ConfigureAwait(false);
        foreach (var (id, rejected) in known)
        {
            if (orphanIds.Contains(id))
            {
                _recovered[id] = rejected;
            }
        }

        var toSend = orphans.Where(o => !known.ContainsKey(o.Id.Value)).OrderBy(o => o.Priority).ThenBy(o => o.Id.Value).ToList();
        _oldestReady = orphans.Count > 0 ? orphans.Min(o => o.EnqueuedAt) : null;
        if (orphans.Count == 0)
        {
            return;
        }

        Log.Recovering(_logger, Name, orphans.Count, orphans.Count - toSend.Count);
        if (toSend.Count == 0)
        {
            return;
        }

        _recoveryDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _recoveryPending = toSend.Count;
        Enqueue(toSend.ConvertAll(info => new Entry(ToOutbound(info.Id, info.Headers, info.Body, info.EnqueuedAt), lease: null)));

        await _recoveryDone.Task.WaitAsync(stopping).ConfigureAwait(false);
    }
}
