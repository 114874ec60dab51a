with

minutes_of_day as (
    select minute_of_day
    from generate_series(0, 1439) as minutes (minute_of_day)
),

times (time_key, hour, minute, day_part) as (
    select
        (minute_of_day / 60) * 100 + minute_of_day % 60,
        minute_of_day / 60,
        minute_of_day % 60,
        case
            when minute_of_day < 6 * 60 then 'night'
            when minute_of_day < 12 * 60 then 'morning'
            when minute_of_day < 18 * 60 then 'afternoon'
            else 'evening'
        end
    from minutes_of_day
)

select * from times
