using DurableQueue.Tests;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>Polls a condition that the server makes true (another connection's lock wait, say).</summary>
internal static class ServerPoll
{
    /// <summary>Returns once <paramref name="condition"/> holds; fails after <see cref="TestStore.Guard"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = Environment.TickCount64 + (long)TestStore.Guard.TotalMilliseconds;
        while (!await condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }
}
