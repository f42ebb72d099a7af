using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace DurableQueue.Hosting.Tests;

public sealed class JobClientTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly Probe _probe = new();

    public void Dispose() => _db.Dispose();

    private Task<TestHost> StartAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, Action<QueueHandlerOptions>? handler = null) =>
        TestHost.StartAsync(
            _db.Path,
            clock,
            b => b.AddJobHandler<AddRequest, AddResult, AddHandler>("sums", TestJson.Default.AddRequest, TestJson.Default.AddResult, handler),
            o =>
            {
                o.JobRetention = TimeSpan.FromHours(1);
                // The test runs the cleanup itself.
                o.CleanupInterval = TimeSpan.FromDays(1);
            },
            s => s.AddSingleton(_probe));

    [Fact]
    public async Task Job_HandedBackAtShutdown_IsPendingAgainWithoutSpendingAnAttempt()
    {
        var clock = TempDb.NewClock();
        var host = await StartAsync(clock);
        // A handler that ignores its token: the shutdown hands the job back without waiting for it.
        _probe.OnHandle = async (_, _) => await Task.Delay(Timeout.InfiniteTimeSpan, CancellationToken.None);
        var id = await host.Jobs.SubmitAsync("sums", new AddRequest(1, 1), TestJson.Default.AddRequest);
        await _probe.NextStartedAsync();
        Assert.Equal(JobState.Running, (await host.Jobs.GetStatusAsync(id))!.State);

        await host.StopAsync(new CancellationToken(canceled: true));

        // The message and the job's status move back together, in one transaction.
        var status = await host.Jobs.GetStatusAsync(id);
        Assert.Equal(JobState.Pending, status!.State);
        Assert.Equal(0, status.Attempts);
        var info = await host.Store.GetQueue("sums").GetMessageAsync(id);
        Assert.Equal(MessageState.Ready, info!.State);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Job_Succeeds_StatusAndResultLifecycle()
    {
        var clock = TempDb.NewClock();
        await using var host = await StartAsync(clock);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, _) => await gate.Task;

        // A queue without a worker shows a waiting job as pending.
        var idle = await host.Jobs.SubmitAsync("nobody-handles-this", new AddRequest(0, 0), TestJson.Default.AddRequest);
        var pending = await host.Jobs.GetStatusAsync(idle);
        Assert.Equal(JobState.Pending, pending!.State);
        Assert.Equal(0, pending.Attempts);
        Assert.Equal(clock.GetUtcNow(), pending.CreatedAt);

        var id = await host.Jobs.SubmitAsync("sums", new AddRequest(2, 3), TestJson.Default.AddRequest);
        var started = await _probe.NextStartedAsync();
        Assert.Equal(id, started.Id);
        Assert.True(started.IsJob);

        var running = await host.Jobs.GetStatusAsync(id);
        Assert.Equal(JobState.Running, running!.State);
        Assert.Equal(1, running.Attempts);
        Assert.Equal(clock.GetUtcNow(), running.StartedAt);
        Assert.Equal(default, await host.Jobs.GetResultAsync(id, TestJson.Default.AddResult));

        var waiting = host.Jobs.WaitForResultAsync(id, TestJson.Default.AddResult).AsTask();
        gate.SetResult();
        var result = await waiting.WaitAsync(TestHost.Guard);
        Assert.Equal(5, result!.Sum);

        var done = await host.Jobs.GetStatusAsync(id);
        Assert.Equal(JobState.Succeeded, done!.State);
        Assert.True(done.IsFinal);
        Assert.True(done.HasResult);
        Assert.Equal(clock.GetUtcNow(), done.CompletedAt);
        Assert.Equal(0, (await host.Store.GetQueue("sums").GetCountsAsync()).Total);

        // Kept for the retention time, then cleaned up.
        var jobs = host.Services.GetRequiredService<Storage.JobStore>();
        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, await jobs.CleanupAsync(default));
        Assert.Equal(5, (await host.Jobs.GetResultAsync(id, TestJson.Default.AddResult))!.Sum);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await jobs.CleanupAsync(default));
        Assert.Null(await host.Jobs.GetStatusAsync(id));
        Assert.Null(await host.Jobs.GetResultAsync(id, TestJson.Default.AddResult));
        Assert.Equal(0, _db.Scalar("SELECT count(*) FROM dq_job_results;"));
    }

    [Fact]
    public async Task Job_Fails_RetryingWithLastErrorThenDeadLettered()
    {
        var clock = TempDb.NewClock();
        await using var host = await StartAsync(clock, o =>
        {
            o.MaxAttempts = 2;
            o.RetryBaseDelay = TimeSpan.FromSeconds(10);
            o.RetryMaxDelay = TimeSpan.FromSeconds(10);
        });
        _probe.OnHandle = (ctx, _) => throw new InvalidOperationException($"broken {ctx.Message.Attempt}");

        var id = await host.Jobs.SubmitAsync("sums", new AddRequest(1, 1), TestJson.Default.AddRequest);
        Assert.Equal(DeliveryOutcome.Retrying, (await host.NextSettledAsync()).Outcome);
        var retrying = await host.Jobs.GetStatusAsync(id);
        Assert.Equal(JobState.Retrying, retrying!.State);
        Assert.Equal(1, retrying.Attempts);
        Assert.Contains("broken 1", retrying.LastError, StringComparison.Ordinal);
        Assert.NotNull(retrying.NextAttemptAt);
        Assert.True(retrying.NextAttemptAt <= clock.GetUtcNow() + TimeSpan.FromSeconds(10));

        var waiting = host.Jobs.WaitForResultAsync(id, TestJson.Default.AddResult).AsTask();
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(DeliveryOutcome.DeadLettered, (await host.NextSettledAsync()).Outcome);

        var failure = await Assert.ThrowsAsync<JobFailedException>(() => waiting.WaitAsync(TestHost.Guard));
        Assert.Equal(JobState.DeadLettered, failure.Status!.State);
        Assert.Equal(2, failure.Status.Attempts);
        Assert.Contains("broken 2", failure.Status.LastError, StringComparison.Ordinal);
        Assert.NotNull(failure.Status.CompletedAt);
    }

    [Theory]
    [InlineData(1, 5, 5)]
    [InlineData(7, 5, 7)]
    public async Task Submit_DelayAndRunAt_TheLaterOneWins(int delayMinutes, int runAtMinutes, int expectedMinutes)
    {
        var clock = TempDb.NewClock();
        await using var host = await StartAsync(clock);
        var now = clock.GetUtcNow();

        var id = await host.Jobs.SubmitAsync(
            "sums", new AddRequest(1, 2), TestJson.Default.AddRequest,
            new JobOptions { Delay = TimeSpan.FromMinutes(delayMinutes), RunAt = now.AddMinutes(runAtMinutes) });

        var status = await host.Jobs.GetStatusAsync(id);
        Assert.Equal(JobState.Scheduled, status!.State);
        Assert.Equal(now.AddMinutes(expectedMinutes), status.RunAt);
        Assert.Equal(now.AddMinutes(expectedMinutes), status.NextAttemptAt);
    }

    [Fact]
    public async Task Cancel_ScheduledJob_NeverRunsAndCannotBeCancelledTwice()
    {
        var clock = TempDb.NewClock();
        await using var host = await StartAsync(clock);
        var runAt = clock.GetUtcNow() + TimeSpan.FromMinutes(1);

        var id = await host.Jobs.SubmitAsync("sums", new AddRequest(1, 2), TestJson.Default.AddRequest, new JobOptions { RunAt = runAt });
        var scheduled = await host.Jobs.GetStatusAsync(id);
        Assert.Equal(JobState.Scheduled, scheduled!.State);
        Assert.Equal(runAt, scheduled.RunAt);
        Assert.Equal(runAt, scheduled.NextAttemptAt);

        Assert.True(await host.Jobs.CancelAsync(id));
        Assert.False(await host.Jobs.CancelAsync(id));
        Assert.Equal(JobState.Cancelled, (await host.Jobs.GetStatusAsync(id))!.State);

        clock.Advance(TimeSpan.FromMinutes(1));
        var (message, outcome) = await host.NextSettledAsync();
        Assert.Equal(id, message.Id);
        Assert.Equal(DeliveryOutcome.Skipped, outcome);
        Assert.Equal(0, _probe.Calls);
        Assert.Equal(0, (await host.Store.GetQueue("sums").GetCountsAsync()).Total);
        Assert.Equal(JobState.Cancelled, (await host.Jobs.GetStatusAsync(id))!.State);
        await Assert.ThrowsAsync<JobFailedException>(() => host.Jobs.WaitForResultAsync(id, TestJson.Default.AddResult).AsTask());
    }

    [Fact]
    public async Task Cancel_SucceededJob_ReturnsFalse()
    {
        await using var host = await StartAsync(TempDb.NewClock());
        var id = await host.Jobs.SubmitAsync("sums", new AddRequest(4, 4), TestJson.Default.AddRequest);
        Assert.Equal(8, (await host.Jobs.WaitForResultAsync(id, TestJson.Default.AddResult).AsTask().WaitAsync(TestHost.Guard))!.Sum);
        Assert.False(await host.Jobs.CancelAsync(id));
        Assert.Equal(JobState.Succeeded, (await host.Jobs.GetStatusAsync(id))!.State);
    }

    [Fact]
    public async Task Submit_UnderActivity_HandlerRunsInTheSameTrace()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "DurableQueue" or "DurableQueue.Hosting.Tests",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var source = new ActivitySource("DurableQueue.Hosting.Tests");
        await using var host = await StartAsync(TempDb.NewClock());
        ActivityTraceId seen = default;
        string? spanName = null;
        _probe.OnHandle = (ctx, _) =>
        {
            seen = Activity.Current!.TraceId;
            spanName = Activity.Current.DisplayName;
            return ValueTask.CompletedTask;
        };

        MessageId id;
        ActivityTraceId traceId;
        using (var parent = source.StartActivity("request"))
        {
            traceId = parent!.TraceId;
            id = await host.Jobs.SubmitAsync("sums", new AddRequest(1, 1), TestJson.Default.AddRequest);
        }

        await host.Jobs.WaitForCompletionAsync(id).AsTask().WaitAsync(TestHost.Guard);
        Assert.Equal(traceId, seen);
        Assert.Equal("process sums", spanName);
    }
}
