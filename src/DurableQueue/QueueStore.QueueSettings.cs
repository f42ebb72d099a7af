using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using DurableQueue.Internal;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;

namespace DurableQueue;

// Queue settings stored in the file: opening a queue with explicit options stores them; opening it without options
// uses what is stored, so that every process and tool sharing the file works with the same settings.
public sealed partial class QueueStore
{
    // Queues opened with explicit options whose settings still have to reach the file; each batch stores them.
    private readonly ConcurrentDictionary<string, QueueOptions> _settingsToStore = new(StringComparer.Ordinal);

    /// <summary>
    /// Occurs when a queue is opened with explicit options that differ from the settings stored in the file for it. The
    /// explicit options win for this store's operations and replace the stored settings. Raised by
    /// <see cref="GetQueue"/> on the caller's thread before it returns; DurableQueue.Hosting logs it as a warning.
    /// </summary>
    public event EventHandler<QueueSettingsConflictEventArgs>? QueueSettingsConflict;

    /// <summary>The options of a queue opened without options: the settings stored in the file, or the defaults.</summary>
    private QueueOptions StoredOrDefaultOptions(string name) => ReadStoredSettings(name) ?? new QueueOptions();

    private QueueOptions? ReadStoredSettings(string name) => _driver.Read(r => r.QueueSettings(name));

    /// <summary>
    /// Makes the state of a queue this store opens with explicit options for the first time: they are stored in the
    /// file (by the next batch) unless the file holds the same, and a difference is reported.
    /// </summary>
    private QueueState OpenWithOptions(string name, QueueOptions options)
    {
        if (_queues.TryGetValue(name, out var existing))
        {
            return existing;
        }

        var stored = ReadStoredSettings(name);
        var state = _queues.GetOrAdd(name, static (n, s) => QueueState.Create(n, s.options, s.store), (options, store: this));
        if (!ReferenceEquals(state.Options, options))
        {
            return state;
        }

        var normalized = QueueSettingsCodec.Normalize(options);
        if (stored is not null && stored.SameAs(normalized))
        {
            return state;
        }

        _settingsToStore[name] = normalized;
        // An empty request starts a batch, which stores the settings before anything else.
        _ = _writer.SubmitAsync(static _ => 0, CancellationToken.None);
        if (stored is not null && QueueSettingsConflict is { } handler)
        {
            handler(this, new QueueSettingsConflictEventArgs(name, stored, options.Clone(), Differences(stored, normalized)));
        }

        return state;
    }

    /// <summary>
    /// Stores the settings of queues opened with explicit options, inside the batch, each in a savepoint: a failure
    /// leaves them for the next batch and never fails the batch's requests.
    /// </summary>
    private void StorePendingSettings(WriteContext context)
    {
        if (_settingsToStore.IsEmpty)
        {
            return;
        }

        foreach (var pending in _settingsToStore)
        {
            context.Session.Savepoint(SavepointNames.Settings);
            try
            {
                context.Commands.StoreQueueSettings(context, pending.Key, pending.Value);
                context.Session.ReleaseSavepoint(SavepointNames.Settings);
                context.AfterCommit(() => _settingsToStore.TryRemove(pending));
            }
            catch (Exception ex) when (context.Session.TransactionActive)
            {
                context.Session.RollbackToSavepoint(SavepointNames.Settings);
                Trace.TraceWarning("DurableQueue: the settings of queue '{0}' could not be stored yet: {1}", pending.Key, ex.Message);
            }
        }
    }

    private static string Differences(QueueOptions stored, QueueOptions options)
    {
        var parts = new List<string>();
        void Compare<T>(string name, T was, T now, Func<T, string> text)
        {
            if (!EqualityComparer<T>.Default.Equals(was, now))
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {text(was)} -> {text(now)}"));
            }
        }

        static string Time(TimeSpan? span) => span is { } s ? s.ToString("c", CultureInfo.InvariantCulture) : "none";
        static string Count(long? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : "none";
        Compare("MaxAttempts", stored.MaxAttempts, options.MaxAttempts, static v => v.ToString(CultureInfo.InvariantCulture));
        Compare("VisibilityTimeout", stored.VisibilityTimeout, options.VisibilityTimeout, static v => Time(v));
        Compare("MaxMessages", stored.MaxMessages, options.MaxMessages, Count);
        Compare("MaxBytes", stored.MaxBytes, options.MaxBytes, Count);
        Compare("FullMode", stored.FullMode, options.FullMode, static v => v.ToString());
        Compare("FullWaitTimeout", stored.FullWaitTimeout, options.FullWaitTimeout, Time);
        return string.Join(", ", parts);
    }
}
