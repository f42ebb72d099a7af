using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting.Tests;

/// <summary>A logger provider that keeps every entry written through it, to assert on what the hosting layer logs.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly SemaphoreSlim _written = new(0);

    public ConcurrentQueue<(string Category, LogLevel Level, EventId Event, string Message)> Entries { get; } = new();

    /// <summary>Waits until an entry with the event name was written (woken by each entry; the guard only turns a hang into a failure).</summary>
    public async Task<(string Category, LogLevel Level, EventId Event, string Message)> WaitForAsync(string eventName, TimeSpan guard)
    {
        var deadline = DateTime.UtcNow + guard;
        while (true)
        {
            foreach (var entry in Entries)
            {
                if (entry.Event.Name == eventName)
                {
                    return entry;
                }
            }

            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero && await _written.WaitAsync(left), $"no log entry {eventName} was written");
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner.Entries.Enqueue((category, logLevel, eventId, formatter(state, exception)));
            owner._written.Release();
        }
    }
}
