using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Tests;

public sealed class ReceiveWaitTests
{
    /// <summary>A fake clock that jumps forward by itself on the second read made by the armed async flow.</summary>
    private sealed class JumpingClock(DateTimeOffset start, TimeSpan jump) : FakeTimeProvider(start)
    {
        private readonly AsyncLocal<StrongBox<int>?> _reads = new();

        public void ArmForThisFlow() => _reads.Value = new StrongBox<int>(0);

        public override DateTimeOffset GetUtcNow()
        {
            if (_reads.Value is { } box && ++box.Value == 2)
            {
                Advance(jump);
            }

            return base.GetUtcNow();
        }
    }

    [Fact]
    public async Task ReceiveAsync_DelayedMessageComesDueBetweenLookAndWait_ReturnsItWithoutFurtherClockMoves()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dq-test-{Guid.NewGuid():N}.db");
        var clock = new JumpingClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromSeconds(1));
        try
        {
            await using (var store = QueueStore.Open(path, new QueueStoreOptions { TimeProvider = clock }))
            {
                var queue = store.GetQueue("q");
                await queue.EnqueueAsync("later", new EnqueueOptions { Delay = TimeSpan.FromSeconds(1) });

                // Read 1 is the receive's deadline; read 2 is "now" right after the look found nothing ready:
                // the message comes due exactly then, and no one moves the clock again.
                clock.ArmForThisFlow();
                var received = await queue.ReceiveAsync(waitTime: TimeSpan.FromSeconds(30)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

                Assert.Equal("later", Assert.Single(received).GetBodyAsString());
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(path + suffix);
            }
        }
    }
}
