using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Tests;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that remembers the timers created on it, so a test can wait until a receiver
/// has armed its wait (a <c>Task.Delay</c> on this clock) before it advances the clock. No real-time sleeps needed.
/// </summary>
internal sealed class TestClock : FakeTimeProvider
{
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Lock _lock = new();
    private readonly List<TimeSpan> _created = [];
    private readonly List<(Func<TimeSpan, bool> Match, TaskCompletionSource Done)> _waiters = [];

    public TestClock()
        : base(Epoch)
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        List<TaskCompletionSource> release = [];
        lock (_lock)
        {
            _created.Add(dueTime);
            _waiters.RemoveAll(w =>
            {
                if (!w.Match(dueTime))
                {
                    return false;
                }

                release.Add(w.Done);
                return true;
            });
        }

        foreach (var done in release)
        {
            done.TrySetResult();
        }

        return timer;
    }

    /// <summary>
    /// Completes once the <paramref name="occurrence"/>-th timer with the given due time has been created on this
    /// clock (counting those created earlier).
    /// </summary>
    public Task TimerCreatedAsync(TimeSpan dueTime, int occurrence = 1)
    {
        lock (_lock)
        {
            var seen = _created.Count(d => d == dueTime);
            if (seen >= occurrence)
            {
                return Task.CompletedTask;
            }

            var remaining = occurrence - seen;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((d => d == dueTime && --remaining == 0, done));
            // A real-time guard so that a broken wake-up fails the test instead of hanging it.
            return done.Task.WaitAsync(TestStore.Guard);
        }
    }
}
