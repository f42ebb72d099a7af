using Microsoft.Extensions.DependencyInjection;

namespace DurableQueue.Hosting.Tests;

/// <summary>Listing jobs (newest first, paged) and recurring schedules through <see cref="JobClient"/>.</summary>
public sealed class JobListingTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly Probe _probe = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task GetJobsAsync_NewestFirst_PagedWithLiveAndFinalStates()
    {
        var clock = TempDb.NewClock();
        await using var host = await TestHost.StartAsync(
            _db.Path,
            clock,
            b => b.AddJobHandler<AddRequest, AddResult, AddHandler>("sums", TestJson.Default.AddRequest, TestJson.Default.AddResult),
            services: s => s.AddSingleton(_probe));
        Assert.Empty(await host.Jobs.GetJobsAsync());

        var done = await host.Jobs.SubmitAsync("sums", new AddRequest(1, 2), TestJson.Default.AddRequest);
        await host.Jobs.WaitForCompletionAsync(done).AsTask().WaitAsync(TestHost.Guard);
        var scheduled = await host.Jobs.SubmitAsync("sums", new AddRequest(3, 4), TestJson.Default.AddRequest, new JobOptions { Delay = TimeSpan.FromHours(1) });
        var cancelled = await host.Jobs.SubmitAsync("sums", new AddRequest(5, 6), TestJson.Default.AddRequest, new JobOptions { Delay = TimeSpan.FromHours(1) });
        Assert.True(await host.Jobs.CancelAsync(cancelled));
        var idle = await host.Jobs.SubmitAsync("nobody-handles-this", new AddRequest(0, 0), TestJson.Default.AddRequest);

        var all = await host.Jobs.GetJobsAsync();
        Assert.Equal([idle, cancelled, scheduled, done], all.Select(j => j.Id));
        Assert.Equal([JobState.Pending, JobState.Cancelled, JobState.Scheduled, JobState.Succeeded], all.Select(j => j.State));
        Assert.Equal("nobody-handles-this", all[0].QueueName);
        Assert.True(all[3].HasResult);

        // Paging: two at a time, each page starting below the last id of the one before.
        var first = await host.Jobs.GetJobsAsync(2);
        var second = await host.Jobs.GetJobsAsync(2, first[^1].Id);
        Assert.Equal([idle, cancelled], first.Select(j => j.Id));
        Assert.Equal([scheduled, done], second.Select(j => j.Id));
        Assert.Empty(await host.Jobs.GetJobsAsync(2, second[^1].Id));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("maxCount", async () => await host.Jobs.GetJobsAsync(0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("maxCount", async () => await host.Jobs.GetJobsAsync(1001));
    }

    [Fact]
    public async Task GetRecurringJobsAsync_ListsCronLastAndNextOccurrence()
    {
        var clock = TempDb.NewClock();
        await using var host = await TestHost.StartAsync(
            _db.Path,
            clock,
            b => b.AddHandler<RawHandler>("ticks").AddRecurringJob("every-minute", "* * * * *", "ticks"),
            services: s => s.AddSingleton(_probe));
        var scheduler = host.Services.GetRequiredService<RecurringJobScheduler>();
        await scheduler.WaitForPassAsync(clock.GetUtcNow(), default).WaitAsync(TestHost.Guard);
        var start = clock.GetUtcNow();

        var before = Assert.Single(await host.Jobs.GetRecurringJobsAsync());
        Assert.Equal(new RecurringJobInfo("every-minute", "* * * * *", "ticks", start.AddMinutes(1), null), before);

        clock.Advance(TimeSpan.FromMinutes(1));
        await scheduler.WaitForPassAsync(clock.GetUtcNow(), default).WaitAsync(TestHost.Guard);
        await _probe.NextStartedAsync();

        var after = Assert.Single(await host.Jobs.GetRecurringJobsAsync());
        Assert.Equal(start.AddMinutes(1), after.LastOccurrence);
        Assert.Equal(start.AddMinutes(2), after.NextOccurrence);
    }
}
