-- Counts logins per account (test fixture for backline migrate).
function nauthilus_call_subject(request)
    return false, 0
end
