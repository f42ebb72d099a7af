
namespace DurableQueue.Tests.BackPressure;

internal static class BackPressureTestKit
{
    /// <summary>Polls a condition that another task makes true (a waiter joining the line); fails after 10 s.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = Environment.TickCount64 + 10_000;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(2);
        }
    }

    /// <summary>
    /// Moves a fake clock in steps until a task completes: a waiter's timer may be armed just after any single
    /// advance, so one big advance could be missed. Returns the total time advanced.
    /// </summary>
    public static async Task<TimeSpan> AdvanceUntilAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, TimeSpan step, Task task, int maxSteps = 400)
    {
        var total = TimeSpan.Zero;
        for (var i = 0; i < maxSteps && !task.IsCompleted; i++)
        {
            clock.Advance(step);
            total += step;
            await Task.WhenAny(task, Task.Delay(5));
        }

        Assert.True(task.IsCompleted, "The task did not complete while the clock moved.");
        return total;
    }

    /// <summary>Counts the rows of the queue table directly, independent of the store's counters.</summary>
    /// <param name="path">The store's file (on PostgreSQL: the test store's raw connection string).</param>
    /// <param name="sql">The count to run.</param>
    public static long RowCount(string path, string sql = "SELECT count(*) FROM dq_messages;")
    {
#if POSTGRES
        using var connection = new Npgsql.NpgsqlConnection(path);
#else
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(
            new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
#endif
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    public static QueueOptions Bounded(long? maxMessages = null, long? maxBytes = null, QueueFullMode mode = QueueFullMode.Wait, TimeSpan? timeout = null) =>
        new() { MaxMessages = maxMessages, MaxBytes = maxBytes, FullMode = mode, FullWaitTimeout = timeout };
}
